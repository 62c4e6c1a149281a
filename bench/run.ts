/**
 * `npm run bench`: hacheck against the best a Node server can do on this machine.
 *
 * Servers run as child processes (pinned to CPU 1 when there are two or more), the load
 * generator (autocannon) runs here (pinned to CPU 0). Scenarios alternate in short rounds
 * (A, B, C, D, E, A, B, ...) and each is reported by its median round, so a noisy neighbour
 * hurts every scenario alike and the ratios hold. Then a burst of concurrent requests on a
 * cold key counts the probes that reached the upstream.
 *
 * Environment: BENCH_ROUNDS (5), BENCH_DURATION seconds per round (3), BENCH_CONNECTIONS (100),
 * BENCH_PIN=0 to let the scheduler place processes, BENCH_WRITE=0 to leave RESULTS.md alone.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { envInt } from './lib/env.js'
import { runLoad, type Sample } from './lib/load.js'
import { canPin, freePort, peakRssMb, pinSelf, startProcess, stopProcess, type ServerProcess } from './lib/procs.js'
import { holds, summarise, withRatios, type Row } from './lib/report.js'
import { machine, renderReport, writeResults, type BurstResult, type SteadyResult } from './lib/results.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DIST = join(ROOT, 'dist', 'bench')

const ROUNDS = envInt('BENCH_ROUNDS', 5)
const DURATION = envInt('BENCH_DURATION', 3)
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 100)
const BURST = 1000
/** The steady run: a rate far above "thousands of checks a minute", on a fresh process. */
const STEADY_RATE = 1000
const STEADY_SECONDS = 5
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && canPin()
const SERVER_CPU = PIN ? 1 : undefined

/** A measured scenario: a URL on a server process, with its target ratio to the baseline. */
interface Scenario {
  name: string
  url: string
  server: ServerProcess
  target?: number
}

async function startHacheck (name: string, dir: string, config: string): Promise<ServerProcess> {
  const spool = join(dir, `spool-${name}`)
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, config)
  const port = await freePort()
  return await startProcess({
    name,
    args: [join(ROOT, 'bin', 'hacheck'), '-c', file, '--spool-root', spool, '-B', '127.0.0.1', '-p', String(port)],
    cpu: SERVER_CPU,
    port,
    readyPath: '/status'
  })
}

async function expectOk (url: string): Promise<void> {
  const res = await fetch(url)
  const body = await res.text()
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body}`)
}

async function upstreamHits (upstream: ServerProcess, path: string): Promise<number> {
  const hits = await (await fetch(`http://127.0.0.1:${upstream.port}/__hits`)).json() as Record<string, number>
  return hits[path] ?? 0
}

/** Every scenario once per round, in order, for `rounds` rounds. */
async function measure (scenarios: readonly Scenario[], rounds: number, duration: number, log: (line: string) => void): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>(scenarios.map((s) => [s.name, []]))
  for (let round = 1; round <= rounds; round++) {
    for (const s of scenarios) {
      const sample = await runLoad({ url: s.url, connections: CONNECTIONS, duration, serverPid: s.server.pid })
      samples.get(s.name)?.push(sample)
      log(`round ${round}/${rounds} ${s.name}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99.toFixed(2)} ms, cpu ${Math.round(sample.serverCpu * 100)}%, errors ${sample.errors}, non-2xx ${sample.non2xx}`)
    }
  }
  return samples
}

async function burst (hacheck: ServerProcess, upstream: ServerProcess): Promise<BurstResult> {
  const before = await upstreamHits(upstream, '/slow')
  const url = `http://127.0.0.1:${hacheck.port}/http/svc/${upstream.port}/slow?cold=${Date.now()}`
  const sample = await runLoad({ url, connections: BURST, amount: BURST, serverPid: hacheck.pid })
  const probes = await upstreamHits(upstream, '/slow') - before
  return { requests: BURST, answered: sample.total, probes, p50: sample.p50, p99: sample.p99, errors: sample.errors, non2xx: sample.non2xx }
}

/** A fresh hacheck at a steady, realistic rate: latency and memory when not saturated. */
async function steady (dir: string, upstream: ServerProcess): Promise<SteadyResult> {
  const hacheck = await startHacheck('steady', dir, 'cache_time: 10\n')
  try {
    const url = `http://127.0.0.1:${hacheck.port}/http/svc/${upstream.port}/health`
    await expectOk(url)
    const sample = await runLoad({ url, connections: 10, rate: STEADY_RATE, duration: STEADY_SECONDS, serverPid: hacheck.pid })
    return { rate: STEADY_RATE, seconds: STEADY_SECONDS, rps: sample.rps, p50: sample.p50, p99: sample.p99, errors: sample.errors, non2xx: sample.non2xx, cpu: sample.serverCpu, rssMb: peakRssMb(hacheck.pid) }
  } finally {
    await stopProcess(hacheck)
  }
}

async function main (): Promise<void> {
  const log = (line: string): void => { process.stderr.write(`${line}\n`) }
  if (PIN) pinSelf(0)
  const started = Date.now()
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-bench-'))
  const procs: ServerProcess[] = []
  const start = async (p: Promise<ServerProcess>): Promise<ServerProcess> => { const proc = await p; procs.push(proc); return proc }
  try {
    const upstream = await start(startProcess({ name: 'upstream', args: [join(DIST, 'servers', 'upstream.js')], cpu: SERVER_CPU, readyPath: '/health' }))
    const baseline = await start(startProcess({ name: 'baseline', args: [join(DIST, 'servers', 'baseline.js')], cpu: SERVER_CPU, readyPath: '/spool/svc/0/' }))
    const cached = await start(startHacheck('cached', dir, 'cache_time: 3600\n'))
    const uncached = await start(startHacheck('uncached', dir, 'cache_time: 0\n'))
    const bursty = await start(startHacheck('burst', dir, 'cache_time: 10\n'))
    const hachecks = [cached, uncached, bursty]

    const scenarios: Scenario[] = [
      { name: 'baseline: bare Fastify 200', url: `http://127.0.0.1:${baseline.port}/spool/svc/0/`, server: baseline },
      { name: 'hacheck /spool/svc/0/', url: `http://127.0.0.1:${cached.port}/spool/svc/0/`, server: cached, target: 0.8 },
      { name: 'hacheck /http/ warm cache', url: `http://127.0.0.1:${cached.port}/http/svc/${upstream.port}/health`, server: cached, target: 0.75 },
      { name: 'hacheck /http/ uncached (cache_time 0)', url: `http://127.0.0.1:${uncached.port}/http/svc/${upstream.port}/health`, server: uncached, target: 0.15 },
      { name: 'upstream alone (node:http, keep-alive)', url: `http://127.0.0.1:${upstream.port}/health`, server: upstream }
    ]
    for (const s of scenarios) await expectOk(s.url)

    log(`warm-up: 1 round of 2 s per scenario; pinning: ${PIN ? 'servers on CPU 1, load generator on CPU 0' : 'none'}`)
    await measure(scenarios, 1, 2, () => {})
    log(`measuring: ${ROUNDS} rounds × ${scenarios.length} scenarios × ${DURATION} s, ${CONNECTIONS} connections`)
    const samples = await measure(scenarios, ROUNDS, DURATION, log)
    log(`burst: ${BURST} concurrent requests on a cold key, upstream answers in 200 ms`)
    const burstResult = await burst(bursty, upstream)
    log(`steady: ${STEADY_RATE} req/s for ${STEADY_SECONDS} s on a fresh hacheck (warm cache)`)
    const steadyResult = await steady(dir, upstream)

    const base = summarise(scenarios[0]?.name ?? '', samples.get(scenarios[0]?.name ?? '') ?? [])
    const rows: Row[] = scenarios.map((s) => withRatios(summarise(s.name, samples.get(s.name) ?? []), base, s.target))
    const rss = hachecks.map((h) => ({ name: h.name, mb: peakRssMb(h.pid) }))
    const reference = [baseline, upstream].map((p) => ({ name: p.name, mb: peakRssMb(p.pid) }))
    const report = renderReport({
      machine: machine(),
      settings: { rounds: ROUNDS, duration: DURATION, connections: CONNECTIONS, pinned: PIN },
      rows,
      burst: burstResult,
      steady: steadyResult,
      rss,
      referenceRss: reference,
      elapsedSeconds: (Date.now() - started) / 1000
    })
    process.stdout.write(`${report}\n`)
    if (process.env.BENCH_WRITE !== '0') log(`written to ${await writeResults(join(ROOT, 'bench', 'RESULTS.md'), report)}`)
    const missed = rows.filter((r) => holds(r) === false).length
    if (missed > 0) log(`${missed} target(s) missed; see the table`)
  } finally {
    await Promise.all(procs.map(stopProcess))
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
