/**
 * `npm run bench:fleet`: what the fleet costs a check, and how fast one write reaches a fleet.
 *
 * 1. The spool route with a fleet configured (the built `bin/hacheck` watching a local etcd
 *    that holds 200 entries and 20 weights for other services) against the same route without
 *    one, in alternating rounds (medians), as `npm run bench` measures; target ≥ 0.95.
 * 2. Propagation: one process runs N fleet watchers (default 1,000 simulated hosts, each the
 *    real watcher on its own gRPC connection, `bench/servers/fleet-sim.ts`); the built
 *    `hadown --fleet` / `haup --fleet` alternate; for every round, the time from the tool
 *    returning to each watcher applying the change (p50, p99, max; target p99 < 1 s), and
 *    etcd's CPU and memory.
 *
 * Environment: FLEET_WATCHERS (1000), FLEET_ROUNDS propagation rounds (10), FLEET_ROUTE=0 to
 * skip part 1 (for propagation runs at other sizes), BENCH_ROUNDS (5),
 * BENCH_DURATION (3), BENCH_CONNECTIONS (100), BENCH_PIN=0, BENCH_WRITE=0 (leave RESULTS.md).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Etcd3 } from 'etcd3'
import { envInt } from './lib/env.js'
import { startEtcdMember, rssMb, type EtcdProcess } from './lib/etcd.js'
import { quantile, runLoad, type Sample } from './lib/load.js'
import { canPin, cpuSeconds, freePort, peakRssMb, pinSelf, startProcess, stopProcess, type ServerProcess } from './lib/procs.js'
import { holds, loadTable, median, summarise, withRatios } from './lib/report.js'
import { machine, writeResults } from './lib/results.js'
import { FleetMirror } from '../src/fleet/view.js'
import { Spool } from '../src/spool/spool.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const WATCHERS = envInt('FLEET_WATCHERS', 1000)
const PROPAGATIONS = envInt('FLEET_ROUNDS', 10)
const ROUNDS = envInt('BENCH_ROUNDS', 5)
const DURATION = envInt('BENCH_DURATION', 3)
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 100)
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && canPin()
const SERVER_CPU = PIN ? 1 : undefined
const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const status = (pid: number): string => readFileSync(`/proc/${pid}/status`, 'utf8')

async function startHacheck (name: string, dir: string, config: Record<string, unknown>): Promise<ServerProcess> {
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, JSON.stringify(config))
  const port = await freePort()
  return await startProcess({
    name,
    args: [join(ROOT, 'bin', 'hacheck'), '-c', file, '--spool-root', join(dir, `spool-${name}`), '-B', '127.0.0.1', '-p', String(port)],
    cpu: SERVER_CPU,
    port,
    readyPath: '/status'
  })
}

/**
 * Part 1b: the lookup itself, in this process: CPU time of `Spool.isUp` for a service with no
 * entry (what the spool route does), without a fleet and with a view of 220 keys. Measured in
 * CPU time (process.cpuUsage), alternating, median of rounds: it holds on a busy machine, where
 * the route's req/s do not.
 */
function lookupCost (dir: string): string {
  const view = new FleetMirror({ prefix: '/hacheck/', host: 'bench01' })
  view.replace(Array.from({ length: 220 }, (_x, i) => ({
    key: i < 200 ? `/hacheck/spool/other${i}` : `/hacheck/weight/other${i - 200}`,
    value: Buffer.from(i < 200 ? '{"reason":"bench","state":"down"}' : '{"weight":50}'),
    modRevision: i + 1
  })), 300)
  view.setConnected(true)
  const spools = { without: new Spool(join(dir, 'lookup')), with: new Spool(join(dir, 'lookup'), undefined, undefined, view) }
  const N = 200000
  const ns: Record<'without' | 'with', number[]> = { without: [], with: [] }
  for (let round = 0; round <= 7; round++) {
    for (const which of ['without', 'with'] as const) {
      const spool = spools[which]
      const before = process.cpuUsage()
      for (let i = 0; i < N; i++) if (!spool.isUp('svc', 0).up) throw new Error('svc is down')
      const used = process.cpuUsage(before)
      if (round > 0) ns[which].push((used.user + used.system) * 1000 / N)
    }
  }
  const a = median(ns.without)
  const b = median(ns.with)
  return `The lookup alone (\`Spool.isUp\` for a service without entries, in-process CPU time, median of 7 alternating rounds of ${N.toLocaleString('en-US')}): ${(a / 1000).toFixed(2)} us without a fleet, ${(b / 1000).toFixed(2)} us with 220 keys in the view (${(b - a).toFixed(0)} ns more per check).`
}

/** Part 1: the spool route with and without a fleet, alternating rounds. */
async function spoolRoute (dir: string, etcd: EtcdProcess): Promise<string> {
  const kv = new Etcd3({ hosts: etcd.url })
  try {
    for (let i = 0; i < 200; i++) await kv.put(`/hacheck/spool/other${i}`).value(JSON.stringify({ reason: 'bench', expiration: null, creation: 1, state: 'down' }))
    for (let i = 0; i < 20; i++) await kv.put(`/hacheck/weight/other${i}`).value(JSON.stringify({ weight: 50, creation: 1 }))
  } finally {
    kv.close()
  }
  const plain = await startHacheck('plain', dir, { cache_time: 3600 })
  const fleet = await startHacheck('fleet', dir, { cache_time: 3600, fleet_etcd_endpoints: [etcd.url], fleet_host_name: 'bench01' })
  try {
    const st = await (await fetch(`http://127.0.0.1:${fleet.port}/status`)).json() as { fleet?: { connected: boolean, entries: number } }
    if (st.fleet?.connected !== true || st.fleet.entries !== 220) throw new Error(`the fleet hacheck is not in sync: ${JSON.stringify(st.fleet)}`)
    const scenarios = [
      { name: 'hacheck /spool/svc/0/ without a fleet', server: plain },
      { name: 'hacheck /spool/svc/0/ with a fleet (220 keys held)', server: fleet, target: 0.95 }
    ]
    const samples = new Map<string, Sample[]>(scenarios.map((s) => [s.name, []]))
    for (let round = 0; round <= ROUNDS; round++) {
      for (const s of scenarios) {
        const sample = await runLoad({ url: `http://127.0.0.1:${s.server.port}/spool/svc/0/`, connections: CONNECTIONS, duration: round === 0 ? 2 : DURATION, serverPid: s.server.pid })
        if (round === 0) continue // warm-up
        samples.get(s.name)?.push(sample)
        log(`round ${round}/${ROUNDS} ${s.name}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99.toFixed(2)} ms, cpu ${Math.round(sample.serverCpu * 100)}%`)
      }
    }
    const base = summarise(scenarios[0]?.name ?? '', samples.get(scenarios[0]?.name ?? '') ?? [])
    const rows = scenarios.map((s) => withRatios(summarise(s.name, samples.get(s.name) ?? []), base, { target: s.target }))
    const rss = `Peak RSS: without a fleet ${peakRssMb(plain.pid).toFixed(1)} MB, with a fleet ${peakRssMb(fleet.pid).toFixed(1)} MB (etcd3 and gRPC are loaded only then).`
    return `${loadTable(rows).replace('| ratio | ratio per CPU |', '| ratio to no fleet | per CPU |')}\n\n${rss} Target ≥ 0.95: ${holds(rows[1] ?? base) === true ? 'yes' : '**no**'}.`
  } finally {
    await Promise.all([stopProcess(plain), stopProcess(fleet)])
  }
}

/** Lines from a child's stdout as JSON objects, awaited one type at a time. */
function reader (child: ChildProcess): (type: string, timeoutMs: number) => Promise<Record<string, unknown>> {
  const queue: Array<Record<string, unknown>> = []
  let wake: () => void = () => {}
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => { queue.push(JSON.parse(line) as Record<string, unknown>); wake() })
  return async (type, timeoutMs) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = queue.findIndex((m) => m.type === type)
      if (i !== -1) return queue.splice(i, 1)[0] as Record<string, unknown>
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the simulator sent no ${type} (exit ${String(child.exitCode)})`)
      await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 200) })
    }
  }
}

/** Runs a built tool; resolves with the wall-clock ms when it started and when it returned. */
async function tool (name: string, args: string[]): Promise<{ start: number, end: number }> {
  const start = performance.timeOrigin + performance.now()
  const child = spawn(process.execPath, [join(ROOT, 'bin', name), ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${name} ${args.join(' ')} exited ${String(code)}: ${stderr}`)
  return { start, end: performance.timeOrigin + performance.now() }
}

/** Part 2: N watchers, alternating hadown --fleet / haup --fleet. */
async function propagation (dir: string, etcd: EtcdProcess): Promise<string> {
  const config = join(dir, 'tools.yaml')
  await writeFile(config, JSON.stringify({ fleet_etcd_endpoints: [etcd.url] }))
  const etcdIdle = rssMb(etcd.pid, status(etcd.pid))
  const sim = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'servers', 'fleet-sim.js'), etcd.url, String(WATCHERS)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const next = reader(sim)
  const send = (doc: unknown): void => { sim.stdin?.write(`${JSON.stringify(doc)}\n`) }
  try {
    const cpuBeforeStart = cpuSeconds(etcd.pid)
    const ready = await next('ready', 600000)
    const startCpu = cpuSeconds(etcd.pid) - cpuBeforeStart
    const etcdWatching = rssMb(etcd.pid, status(etcd.pid))
    log(`${WATCHERS} watchers connected in ${(Number(ready.ms) / 1000).toFixed(1)} s; etcd RSS ${etcdIdle.toFixed(0)} -> ${etcdWatching.toFixed(0)} MB`)
    const fromReturn: number[] = []
    const fromStart: number[] = []
    const fromFirst: number[] = []
    const roundMax: number[] = []
    const roundCpu: number[] = []
    for (let round = 1; round <= PROPAGATIONS; round++) {
      const down = round % 2 === 1
      send({ arm: '/hacheck/spool/propagation', event: down ? 'put' : 'delete' })
      await next('armed', 10000)
      const cpu0 = cpuSeconds(etcd.pid)
      const t = await tool(down ? 'hadown' : 'haup', ['-c', config, '--fleet', ...(down ? ['-r', 'bench'] : []), 'propagation'])
      const seen = await next('seen', 60000)
      roundCpu.push(cpuSeconds(etcd.pid) - cpu0)
      const times = seen.times as number[]
      const first = Math.min(...times)
      for (const x of times) { fromReturn.push(Math.max(0, x - t.end)); fromStart.push(x - t.start); fromFirst.push(x - first) }
      roundMax.push(Math.max(...times) - t.end)
      log(`round ${round}/${PROPAGATIONS} ${down ? 'hadown' : 'haup'} --fleet: every watcher ${Math.max(0, roundMax[roundMax.length - 1] ?? 0).toFixed(0)} ms after the tool returned (the tool ran ${(t.end - t.start).toFixed(0)} ms)`)
    }
    send({ stats: 1 })
    const stats = await next('stats', 10000)
    const simRss = peakRssMb(sim.pid as number)
    const etcdPeak = peakRssMb(etcd.pid)
    send({ stop: 1 })
    const r = [...fromReturn].sort((a, b) => a - b)
    const s = [...fromStart].sort((a, b) => a - b)
    const f = [...fromFirst].sort((a, b) => a - b)
    const p99 = quantile(r, 0.99)
    const perWatcherKb = (etcdWatching - etcdIdle) * 1024 / WATCHERS
    const cpuPerRound = roundCpu.reduce((a, b) => a + b, 0) / roundCpu.length
    return [
      '| watchers | rounds | p50 ms | p99 ms | max ms | fan-out p50 / p99 / max ms | from the tool starting p50 / p99 ms | target p99 < 1000 ms | holds |',
      '|--:|--:|--:|--:|--:|--:|--:|---|---|',
      `| ${WATCHERS} | ${PROPAGATIONS} (${r.length.toLocaleString('en-US')} samples) | ${quantile(r, 0.5).toFixed(1)} | ${p99.toFixed(1)} | ${r[r.length - 1]?.toFixed(1) ?? ''} | ${quantile(f, 0.5).toFixed(1)} / ${quantile(f, 0.99).toFixed(1)} / ${f[f.length - 1]?.toFixed(1) ?? ''} | ${quantile(s, 0.5).toFixed(0)} / ${quantile(s, 0.99).toFixed(0)} | p99 < 1000 | ${p99 < 1000 ? 'yes' : '**no**'} |`,
      '',
      `p50/p99/max: from the tool returning to each watcher applying the change (0 when a watcher applied it before the tool process had exited). Fan-out: from the first watcher applying it to each of the others (what etcd and the watchers add, whatever the tool costs). From the tool starting: includes the tool's own start-up (a fresh Node process loading etcd3, connecting, one transaction). Watchers that lost their connection during the run: ${String(stats.losses)}; connected at the end: ${String(stats.connected)}/${WATCHERS}.`,
      '',
      `etcd: RSS ${etcdIdle.toFixed(0)} MB idle, ${etcdWatching.toFixed(0)} MB with ${WATCHERS} watchers (${perWatcherKb.toFixed(0)} KB per simulated host: one connection, one watch stream, three watchers), peak ${etcdPeak.toFixed(0)} MB; CPU ${startCpu.toFixed(1)} s to serve the ${WATCHERS} hosts' first read and watch (${(startCpu * 1000 / WATCHERS).toFixed(1)} ms each), ${(cpuPerRound * 1000).toFixed(0)} ms per propagation (one write fanned out to ${WATCHERS} watchers, ${(cpuPerRound * 1e6 / WATCHERS).toFixed(0)} us per watcher). The simulator (all ${WATCHERS} watchers in one Node process) peaked at ${simRss.toFixed(0)} MB.`
    ].join('\n')
  } finally {
    if (sim.exitCode === null) {
      const exited = new Promise((resolve) => sim.once('exit', resolve))
      setTimeout(() => { sim.kill('SIGKILL') }, 20000).unref()
      sim.stdin?.end()
      await exited
    }
  }
}

async function main (): Promise<void> {
  if (PIN) pinSelf(0)
  const started = Date.now()
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-bench-fleet-'))
  const etcd = await startEtcdMember(dir)
  try {
    log(`part 1: the spool route with and without a fleet, ${ROUNDS} alternating rounds × ${DURATION} s, ${CONNECTIONS} connections`)
    const route = process.env.FLEET_ROUTE === '0' ? '(part 1 skipped: FLEET_ROUTE=0)' : `${await spoolRoute(dir, etcd)}\n\n${lookupCost(dir)}`
    log(`part 2: propagation to ${WATCHERS} watchers, ${PROPAGATIONS} rounds`)
    const prop = await propagation(dir, etcd)
    const m = machine()
    const version = /^etcd Version: (\S+)/m.exec(await etcdVersion())?.[1] ?? '?'
    const pinning = PIN ? 'hacheck pinned to CPU 1, the load generator to CPU 0, etcd and the simulator unpinned' : 'no pinning'
    const report = [
      `Run: ${m.date}, Node ${m.node}, ${m.cpu} (${m.cores} cores), Linux ${m.kernel}, etcd ${version}; ${pinning}. Whole run ${Math.round((Date.now() - started) / 1000)} s.`,
      '',
      route,
      '',
      prop
    ].join('\n')
    process.stdout.write(`${report}\n`)
    if (process.env.BENCH_WRITE !== '0') {
      log(`written to ${await writeResults(join(ROOT, 'bench', 'RESULTS.md'), report, { begin: '<!-- bench-fleet:begin (written by npm run bench:fleet) -->', end: '<!-- bench-fleet:end -->' })}`)
    }
  } finally {
    await etcd.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function etcdVersion (): Promise<string> {
  const child = spawn(process.env.ETCD_BIN ?? '/usr/bin/etcd', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  await new Promise((resolve) => child.once('exit', resolve))
  return out
}

await main()
