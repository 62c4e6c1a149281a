/**
 * The report: machine, settings, the load table, the burst and memory, each with its target;
 * and its place in bench/RESULTS.md (between markers, so the notes around it stay).
 */
import { readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, release } from 'node:os'
import { holds, loadTable, type Row } from './report.js'

/** What the burst measured. */
export interface BurstResult {
  requests: number
  answered: number
  /** Probes that reached the upstream. */
  probes: number
  p50: number
  p99: number
  errors: number
  non2xx: number
}

/** What the steady run measured. */
export interface SteadyResult {
  /** Requests per second asked for. */
  rate: number
  seconds: number
  rps: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  /** Server CPU, fraction of one core. */
  cpu: number
  /** Peak RSS of that (fresh) process. */
  rssMb: number
}

/** Where the numbers were taken. */
export interface Machine {
  date: string
  node: string
  cpu: string
  cores: number
  kernel: string
}

/** Everything {@link renderReport} prints. */
export interface Report {
  machine: Machine
  settings: { rounds: number, duration: number, connections: number, pinned: boolean }
  rows: readonly Row[]
  burst: BurstResult
  steady: SteadyResult
  rss: ReadonlyArray<{ name: string, mb: number }>
  /** Peak RSS of the baseline and the upstream, for comparison. */
  referenceRss: ReadonlyArray<{ name: string, mb: number }>
  elapsedSeconds: number
}

/** Peak RSS allowed for a hacheck process, MB. */
export const RSS_LIMIT_MB = 100

/** Date, Node version, CPU model (from /proc/cpuinfo), cores, kernel. */
export function machine (): Machine {
  let cpu = 'unknown'
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu
  } catch {}
  return { date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), node: process.version, cpu, cores: cpus().length, kernel: release() }
}

const yes = (ok: boolean): string => ok ? 'yes' : '**no**'

/** The report as markdown. */
export function renderReport (r: Report): string {
  const m = r.machine
  const s = r.settings
  const b = r.burst
  const st = r.steady
  const burstOk = b.probes === 1 && b.errors === 0 && b.non2xx === 0 && b.answered === b.requests
  const peak = Math.max(...r.rss.map((x) => x.mb))
  const allLoadOk = r.rows.every((row) => holds(row) !== false)
  const noErrors = r.rows.every((row) => row.errors === 0 && row.non2xx === 0) && b.errors === 0 && b.non2xx === 0 && st.errors === 0 && st.non2xx === 0
  return [
    `Run: ${m.date}, Node ${m.node}, ${m.cpu} (${m.cores} cores), Linux ${m.kernel}.`,
    `Load: autocannon, ${s.connections} connections, ${s.rounds} alternating rounds of ${s.duration} s per scenario (medians; errors summed), ` +
      (s.pinned ? 'servers pinned to CPU 1 and the load generator to CPU 0 (`taskset`).' : 'no CPU pinning.') +
      ` Whole run ${Math.round(r.elapsedSeconds)} s.`,
    '',
    loadTable(r.rows),
    '',
    '| burst | requests | answered | probes reaching the upstream | p50 ms | p99 ms | errors | non-2xx | target | holds |',
    '|---|--:|--:|--:|--:|--:|--:|--:|---|---|',
    `| ${b.requests} concurrent, cold key, 200 ms upstream | ${b.requests} | ${b.answered} | ${b.probes} | ${b.p50.toFixed(1)} | ${b.p99.toFixed(1)} | ${b.errors} | ${b.non2xx} | 1 probe, 0 errors | ${yes(burstOk)} |`,
    '',
    `Peak RSS (VmHWM) of the hacheck processes: ${r.rss.map((x) => `${x.name} ${x.mb.toFixed(1)} MB`).join(', ')}; ` +
      `target < ${RSS_LIMIT_MB} MB: ${yes(peak < RSS_LIMIT_MB)}. ` +
      `For comparison, under the same load: ${r.referenceRss.map((x) => `${x.name} ${x.mb.toFixed(1)} MB`).join(', ')}.`,
    '',
    `Steady load (${st.rate} req/s, 10 connections, ${st.seconds} s, warm cache, fresh process): ${Math.round(st.rps)} req/s, ` +
      `p50 ${st.p50.toFixed(2)} ms, p99 ${st.p99.toFixed(2)} ms, errors ${st.errors}, non-2xx ${st.non2xx}, ` +
      `server CPU ${Math.round(st.cpu * 100)}%, peak RSS ${st.rssMb.toFixed(1)} MB.`,
    '',
    `Targets: load ratios ${yes(allLoadOk)}; burst ${yes(burstOk)}; zero errors ${yes(noErrors)}; memory ${yes(peak < RSS_LIMIT_MB)}.`
  ].join('\n')
}

const BEGIN = '<!-- bench:begin (written by npm run bench) -->'
const END = '<!-- bench:end -->'

/**
 * Puts the report between the markers of `file` (appending them when absent); other benchmarks
 * pass markers of their own. @returns the file.
 */
export async function writeResults (file: string, report: string, markers: { begin: string, end: string } = { begin: BEGIN, end: END }): Promise<string> {
  let text = ''
  try { text = await readFile(file, 'utf8') } catch {}
  const block = `${markers.begin}\n${report}\n${markers.end}`
  const begin = text.indexOf(markers.begin)
  const end = text.indexOf(markers.end)
  text = begin !== -1 && end > begin
    ? text.slice(0, begin) + block + text.slice(end + markers.end.length)
    : `${text === '' ? '# Benchmark results\n\n' : `${text.trimEnd()}\n\n`}${block}\n`
  await writeFile(file, text)
  return file
}
