/**
 * `npm run bench`: hacheck against the best a Node server can do on this machine.
 *
 * Every server is a child process. hacheck and the baseline are pinned to CPU 1; the load
 * generator (autocannon, here) and the upstream to CPU 0, so hacheck's core is its own and the
 * probes' other end does not share it. Each scenario has a hacheck process of its own, so its
 * peak RSS is that scenario's. Scenarios alternate in short rounds (A, B, C, ..., A, B, ...)
 * and each is reported by its median round, so a noisy neighbour hurts every scenario alike and
 * the ratios hold. Then: a burst of concurrent requests on a cold key (probes reaching the
 * upstream), a steady rate on a fresh process, memory (idle, after one probe of every
 * protocol) and the many-services run (`lib/scale.ts`).
 *
 * Environment: BENCH_ROUNDS (5), BENCH_DURATION seconds per round (3), BENCH_CONNECTIONS (100),
 * BENCH_PIN=0 to let the scheduler place processes, BENCH_WRITE=0 to leave RESULTS.md alone,
 * BENCH_SERVICES (10000) for the many-services run, BENCH_SCALE=0 to skip it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { envInt } from './lib/env.js'
import { runLoad } from './lib/load.js'
import { protocolMemory } from './lib/memory.js'
import { canPin, peakRssMb, pinSelf, startProcess, stopProcess, type ServerProcess } from './lib/procs.js'
import { holds, holdsProbeCost, summarise, withRatios, type Row } from './lib/report.js'
import { machine, renderReport, writeResults, type BurstResult, type SteadyResult } from './lib/results.js'
import { measure, type Scenario } from './lib/rounds.js'
import { runScale } from './lib/scale.js'
import { ROOT, expectOk, startHacheck, startUpstream, type Upstream } from './lib/servers.js'

const ROUNDS = envInt('BENCH_ROUNDS', 5)
const DURATION = envInt('BENCH_DURATION', 3)
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 100)
const BURST = 1000
/** The steady run: a rate far above "thousands of checks a minute", on a fresh process. */
const STEADY_RATE = 1000
const STEADY_SECONDS = 5
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && canPin()
/** hacheck's and the baseline's core. */
const SERVER_CPU = PIN ? 1 : undefined
/** The load generator's and the upstream's core. */
const DRIVER_CPU = PIN ? 0 : undefined
const NO_CACHE = { pragma: 'no-cache' }

async function burst (hacheck: ServerProcess, upstream: Upstream): Promise<BurstResult> {
  const slowHits = async (): Promise<number> => (await upstream.hits())['/slow'] ?? 0
  const before = await slowHits()
  const url = `http://127.0.0.1:${hacheck.port}/http/svc/${upstream.http}/slow?cold=${Date.now()}`
  const sample = await runLoad({ url, connections: BURST, amount: BURST, serverPid: hacheck.pid })
  const probes = await slowHits() - before
  return { requests: BURST, answered: sample.total, probes, p50: sample.p50, p99: sample.p99, errors: sample.errors, non2xx: sample.non2xx }
}

/** A fresh hacheck at a steady, realistic rate: latency and memory when not saturated. */
async function steady (dir: string, upstream: Upstream): Promise<SteadyResult> {
  const hacheck = await startHacheck('steady', dir, 'cache_time: 10\n', SERVER_CPU)
  try {
    const url = `http://127.0.0.1:${hacheck.port}/http/svc/${upstream.http}/health`
    await expectOk(url)
    const sample = await runLoad({ url, connections: 10, rate: STEADY_RATE, duration: STEADY_SECONDS, serverPid: hacheck.pid })
    return { rate: STEADY_RATE, seconds: STEADY_SECONDS, rps: sample.rps, p50: sample.p50, p99: sample.p99, errors: sample.errors, non2xx: sample.non2xx, cpu: sample.serverCpu, rssMb: peakRssMb(hacheck.pid) }
  } finally {
    await stopProcess(hacheck)
  }
}

/** The measured scenarios, each on a hacheck of its own (the baseline first). */
async function scenarios (dir: string, upstream: Upstream, start: (p: Promise<ServerProcess>) => Promise<ServerProcess>): Promise<Scenario[]> {
  const hacheck = async (name: string, config: string): Promise<ServerProcess> => await start(startHacheck(name, dir, config, SERVER_CPU))
  const baseline = await start(startProcess({ name: 'baseline', args: [join(ROOT, 'dist', 'bench', 'servers', 'baseline.js')], cpu: SERVER_CPU, readyPath: '/spool/svc/0/' }))
  const ceiling = await start(startProcess({ name: 'bare-probe', args: [join(ROOT, 'dist', 'bench', 'servers', 'bare-probe.js'), String(upstream.http)], cpu: SERVER_CPU, readyPath: '/http/svc/0/' }))
  const spool = await hacheck('spool', 'cache_time: 3600\n')
  const warm = await hacheck('warm', 'cache_time: 3600\n')
  const probeHttp = await hacheck('probe-http', 'cache_time: 0\n')
  const probeTcp = await hacheck('probe-tcp', 'cache_time: 0\n')
  const coalesced = await hacheck('coalesced', 'cache_time: 0\n')
  const url = (p: ServerProcess, path: string): string => `http://127.0.0.1:${p.port}${path}`
  return [
    { name: 'baseline: bare Fastify 200', url: url(baseline, '/spool/svc/0/'), server: baseline },
    { name: 'hacheck /spool/svc/0/', url: url(spool, '/spool/svc/0/'), server: spool, target: 0.6 },
    { name: 'hacheck /http/ warm cache', url: url(warm, `/http/svc/${upstream.http}/health`), server: warm, target: 0.5 },
    { name: 'hacheck /http/ cache_time 0 + Pragma: no-cache, 1 probe per request', url: url(probeHttp, `/http/svc/${upstream.http}/probe`), server: probeHttp, headers: NO_CACHE, probeCounter: '/probe', target: 0.08, maxCpuUsPerProbe: 180 },
    { name: 'ceiling: bare Fastify + one node:http GET per request (agent: false)', url: url(ceiling, '/http/svc/0/'), server: ceiling, probeCounter: '/probe' },
    { name: 'hacheck /tcp/ cache_time 0 + Pragma: no-cache, 1 probe per request', url: url(probeTcp, `/tcp/svc/${upstream.tcp}/`), server: probeTcp, headers: NO_CACHE, probeCounter: 'tcp', maxCpuUsPerProbe: 120 },
    { name: 'hacheck /http/ cache_time 0, concurrent requests coalesced', url: url(coalesced, `/http/svc/${upstream.http}/health`), server: coalesced, probeCounter: '/health' }
  ]
}

async function main (): Promise<void> {
  const log = (line: string): void => { process.stderr.write(`${line}\n`) }
  if (PIN) pinSelf(0)
  const started = Date.now()
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-bench-'))
  const procs: ServerProcess[] = []
  const start = async (p: Promise<ServerProcess>): Promise<ServerProcess> => { const proc = await p; procs.push(proc); return proc }
  try {
    const upstream = await startUpstream(dir, DRIVER_CPU)
    procs.push(upstream.proc)
    const list = await scenarios(dir, upstream, start)
    const bursty = await start(startHacheck('burst', dir, 'cache_time: 10\n', SERVER_CPU))
    for (const s of list) await expectOk(s.url)

    const rounds = { connections: CONNECTIONS, hits: upstream.hits, log }
    log(`warm-up: 1 round of 2 s per scenario; pinning: ${PIN ? 'hacheck and baseline on CPU 1, load generator and upstream on CPU 0' : 'none'}`)
    await measure(list, { ...rounds, rounds: 1, duration: 2, log: () => {} })
    log(`measuring: ${ROUNDS} rounds × ${list.length} scenarios × ${DURATION} s, ${CONNECTIONS} connections`)
    const samples = await measure(list, { ...rounds, rounds: ROUNDS, duration: DURATION })
    log(`burst: ${BURST} concurrent requests on a cold key, upstream answers in 200 ms`)
    const burstResult = await burst(bursty, upstream)
    log(`steady: ${STEADY_RATE} req/s for ${STEADY_SECONDS} s on a fresh hacheck (warm cache)`)
    const steadyResult = await steady(dir, upstream)
    log('memory: a fresh hacheck idle, then after one probe of each protocol')
    const memory = await protocolMemory(dir, upstream, SERVER_CPU, DRIVER_CPU)
    const services = envInt('BENCH_SERVICES', 10000)
    if (process.env.BENCH_SCALE !== '0') log(`scale: ${services} services`)
    const scale = process.env.BENCH_SCALE === '0'
      ? undefined
      : await runScale({ dir, cpu: SERVER_CPU, upstream, services, rounds: Math.min(ROUNDS, 3), duration: DURATION, connections: CONNECTIONS, log })

    const base = summarise(list[0]?.name ?? '', samples.get(list[0]?.name ?? '') ?? [])
    const rows: Row[] = list.map((s) => withRatios(summarise(s.name, samples.get(s.name) ?? []), base, s))
    const peaks = [...list.filter((s) => s.name.startsWith('hacheck')).map((s) => ({ scenario: s.name, mb: peakRssMb(s.server.pid) })),
      { scenario: 'burst', mb: peakRssMb(bursty.pid) }, { scenario: 'steady', mb: steadyResult.rssMb }]
    const reference = [...list.filter((s) => !s.name.startsWith('hacheck')).map((s) => s.server), upstream.proc].flatMap((p) => p === undefined ? [] : [{ name: p.name, mb: peakRssMb(p.pid) }])
    const report = renderReport({
      machine: machine(),
      settings: { rounds: ROUNDS, duration: DURATION, connections: CONNECTIONS, pinned: PIN },
      rows,
      burst: burstResult,
      steady: steadyResult,
      peaks,
      memory,
      referenceRss: reference,
      scale,
      elapsedSeconds: (Date.now() - started) / 1000
    })
    process.stdout.write(`${report}\n`)
    if (process.env.BENCH_WRITE !== '0') log(`written to ${await writeResults(join(ROOT, 'bench', 'RESULTS.md'), report)}`)
    const missed = rows.filter((r) => holds(r) === false || holdsProbeCost(r) === false).length
    if (missed > 0) log(`${missed} load target(s) missed; see the tables`)
  } finally {
    await Promise.all(procs.map(stopProcess))
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
