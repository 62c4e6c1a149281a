/**
 * The report: machine, settings, the load and probe-cost tables, the burst, memory and the
 * many-services run, each with its target;
 * and its place in bench/RESULTS.md (between markers, so the notes around it stay).
 */
import { readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, release } from 'node:os'
import type { MemoryResult } from './memory.js'
import { memoryHolds, peaksHold, renderMemory, type ScenarioRss } from './memory-report.js'
import { holds, holdsProbeCost, loadTable, probeTable, type Row } from './report.js'
import type { ScaleResult } from './scale.js'
import { renderScale, scaleHolds } from './scale-report.js'

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
  /** Peak RSS of the hacheck behind each scenario (one process per scenario). */
  peaks: readonly ScenarioRss[]
  memory: MemoryResult
  /** Peak RSS of the baseline and the upstream, for comparison. */
  referenceRss: ReadonlyArray<{ name: string, mb: number }>
  /** The many-services run, unless skipped. */
  scale?: ScaleResult | undefined
  elapsedSeconds: number
}

/** Date, Node version, CPU model (from /proc/cpuinfo), cores, kernel. */
export function machine (): Machine {
  let cpu = 'unknown'
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu
  } catch {}
  return { date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), node: process.version, cpu, cores: cpus().length, kernel: release() }
}

const yes = (ok: boolean): string => ok ? 'yes' : '**no**'

function burstTable (b: BurstResult, ok: boolean): string {
  return [
    '| burst | requests | answered | probes reaching the upstream | p50 ms | p99 ms | errors | non-2xx | target | holds |',
    '|---|--:|--:|--:|--:|--:|--:|--:|---|---|',
    `| ${b.requests} concurrent, cold key, 200 ms upstream | ${b.requests} | ${b.answered} | ${b.probes} | ${b.p50.toFixed(1)} | ${b.p99.toFixed(1)} | ${b.errors} | ${b.non2xx} | 1 probe, 0 errors | ${yes(ok)} |`
  ].join('\n')
}

/** The report as markdown. */
export function renderReport (r: Report): string {
  const m = r.machine
  const s = r.settings
  const b = r.burst
  const st = r.steady
  const burstOk = b.probes === 1 && b.errors === 0 && b.non2xx === 0 && b.answered === b.requests
  const loadOk = r.rows.every((row) => holds(row) !== false)
  const probeOk = r.rows.every((row) => holdsProbeCost(row) !== false)
  const mem = memoryHolds(r.memory)
  const memOk = peaksHold(r.peaks) && mem.idle && mem.probed
  const noErrors = r.rows.every((row) => row.errors === 0 && row.non2xx === 0) && b.errors === 0 && b.non2xx === 0 && st.errors === 0 && st.non2xx === 0
  return [
    `Run: ${m.date}, Node ${m.node}, ${m.cpu} (${m.cores} cores), Linux ${m.kernel}.`,
    `Load: autocannon, ${s.connections} connections, ${s.rounds} alternating rounds of ${s.duration} s per scenario (medians; errors summed), ` +
      (s.pinned ? 'hacheck and the baseline pinned to CPU 1, the load generator and the upstream to CPU 0 (`taskset`).' : 'no CPU pinning.') +
      ` Whole run ${Math.round(r.elapsedSeconds)} s.`,
    '',
    loadTable(r.rows),
    '',
    'Probes that reached the upstream (counted there, before and after each round) and hacheck\'s own CPU time per probe (`/proc/<pid>/stat` over the round, divided by those probes; median round):',
    '',
    probeTable(r.rows),
    '',
    `For scale: the baseline used ${Math.round(1e6 * (r.rows[0]?.serverCpu ?? 0) / Math.max(r.rows[0]?.rps ?? 1, 1))} us of CPU per request in this run (a busy machine inflates every CPU figure alike).`,
    '',
    burstTable(b, burstOk),
    '',
    renderMemory(r.peaks, r.memory, r.referenceRss),
    '',
    `Steady load (${st.rate} req/s, 10 connections, ${st.seconds} s, warm cache, fresh process): ${Math.round(st.rps)} req/s, ` +
      `p50 ${st.p50.toFixed(2)} ms, p99 ${st.p99.toFixed(2)} ms, errors ${st.errors}, non-2xx ${st.non2xx}, ` +
      `server CPU ${Math.round(st.cpu * 100)}%, peak RSS ${st.rssMb.toFixed(1)} MB.`,
    '',
    ...(r.scale === undefined ? [] : [renderScale(r.scale), '']),
    `Targets: load ratios ${yes(loadOk)}; CPU per probe ${yes(probeOk)}; burst ${yes(burstOk)}; zero errors ${yes(noErrors)}; memory ${yes(memOk)}` +
      (r.scale === undefined ? '.' : `; ${r.scale.services.toLocaleString('en-US')} services ${yes(scaleHolds(r.scale))}.`)
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
