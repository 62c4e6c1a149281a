/**
 * `npm run bench:fleet-status`: the cost of fleet status (docs/fleet.md "Fleet status") at
 * fleet scale. A local etcd member; `bench/servers/status-sim.ts` runs N publishing hosts
 * (default 1,000, each the real `StatusPublisher` on its own gRPC connection) with S services
 * each (default 20); this process watches `<prefix>status/` as a reader would. Measured:
 * the initial publish of N x S records; etcd's writes (transactions, puts, raft proposals)
 * per second at steady state and during a fleet-wide change; from a host's change to the
 * watcher seeing it (single changes, p50/p99, target p99 < 1 s, and the fleet-wide change);
 * etcd's DB size and RSS; the RSS of a hacheck reading the whole prefix (`status-read.ts`).
 * Bounded: every wait has a deadline, the whole run takes a few minutes at most.
 *
 * Environment: STATUS_HOSTS (1000), STATUS_SERVICES (20), STATUS_TTL (30), STATUS_ROUNDS
 * single-change rounds (50), STATUS_STEADY seconds (10), BENCH_WRITE=0 (leave RESULTS.md).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Etcd3 } from 'etcd3'
import { envInt } from './lib/env.js'
import { rssMb, startEtcdMember, type EtcdProcess } from './lib/etcd.js'
import { quantile } from './lib/load.js'
import { machine, writeResults } from './lib/results.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const HOSTS = envInt('STATUS_HOSTS', 1000)
const SERVICES = envInt('STATUS_SERVICES', 20)
const TTL = envInt('STATUS_TTL', 30)
const ROUNDS = envInt('STATUS_ROUNDS', 50)
const STEADY = envInt('STATUS_STEADY', 10)
const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const nowMs = (): number => performance.timeOrigin + performance.now()

/** Sums of etcd's Prometheus counters and gauges we read, by metric name. */
async function etcdMetrics (etcd: EtcdProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${etcd.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line)
    if (m === null) continue
    out[m[1] as string] = (out[m[1] as string] ?? 0) + Number(m[3])
    // Per gRPC method: transactions answered, and lease keepalive messages received.
    if (m[1] === 'grpc_server_handled_total' && m[2]?.includes('grpc_method="Txn"') === true) out.txns = (out.txns ?? 0) + Number(m[3])
    if (m[1] === 'grpc_server_msg_received_total' && m[2]?.includes('grpc_method="LeaseKeepAlive"') === true) out.keepalives = (out.keepalives ?? 0) + Number(m[3])
  }
  return out
}
const WRITES = ['txns', 'etcd_mvcc_put_total', 'etcd_server_proposals_committed_total', 'keepalives'] as const
const rate = (a: Record<string, number>, b: Record<string, number>, seconds: number): Record<string, number> =>
  Object.fromEntries(WRITES.map((k) => [k, ((b[k] ?? 0) - (a[k] ?? 0)) / seconds]))
const fmtRate = (r: Record<string, number>): string =>
  `${(r.txns ?? 0).toFixed(1)} txn/s, ${(r.etcd_mvcc_put_total ?? 0).toFixed(1)} puts/s, ${(r.etcd_server_proposals_committed_total ?? 0).toFixed(1)} raft proposals/s, ${(r.keepalives ?? 0).toFixed(1)} lease keepalives/s`

function lines (child: ChildProcess): (type: string, timeoutMs: number) => Promise<Record<string, unknown>> {
  const queue: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => { queue.push(JSON.parse(line) as Record<string, unknown>) })
  return async (type, timeoutMs) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = queue.findIndex((m) => m.type === type)
      if (i !== -1) return queue.splice(i, 1)[0] as Record<string, unknown>
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${type} from ${String(child.spawnargs[1])} (exit ${String(child.exitCode)})`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

async function main (): Promise<void> {
  const begun = performance.now()
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-bench-status-'))
  const etcd = await startEtcdMember(dir)
  const watcherClient = new Etcd3({ hosts: etcd.url })
  const sim = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'servers', 'status-sim.js'), etcd.url, String(HOSTS), String(SERVICES), String(TTL)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const send = (doc: unknown): void => { sim.stdin?.write(`${JSON.stringify(doc)}\n`) }
  const next = lines(sim)
  try {
    // The watcher: what a reader following the whole prefix sees, with the time it saw it.
    const seen = new Map<string, number>()
    const watcher = await watcherClient.watch().prefix('/hacheck/status/').create()
    watcher.on('put', (kv) => { seen.set(kv.key.toString(), nowMs()) })

    const ready = await next('ready', 300_000)
    const initialMs = Number(ready.ms)
    log(`initial publish: ${HOSTS} hosts x ${SERVICES} services in ${(initialMs / 1000).toFixed(1)} s`)

    await new Promise((resolve) => setTimeout(resolve, 2000))
    const m0 = await etcdMetrics(etcd)
    await new Promise((resolve) => setTimeout(resolve, STEADY * 1000))
    const m1 = await etcdMetrics(etcd)
    const steady = rate(m0, m1, STEADY)
    log(`steady: ${fmtRate(steady)}`)

    // Single changes: one host at a time flips svc00; from the change to the watcher seeing it.
    const single: number[] = []
    for (let i = 0; i < ROUNDS; i++) {
      const host = Math.floor(Math.random() * HOSTS)
      const key = `/hacheck/status/svc00/sim${String(host).padStart(5, '0')}`
      seen.delete(key)
      send({ set: 'svc00', state: i % 2 === 0 ? 'down' : 'up', hosts: [host] })
      const at = Number((await next('set', 10_000)).at)
      const deadline = Date.now() + 10_000
      while (!seen.has(key) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2))
      if (!seen.has(key)) throw new Error(`change of ${key} not seen within 10 s`)
      single.push((seen.get(key) as number) - at)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    single.sort((a, b) => a - b)
    log(`single change -> watcher: p50 ${quantile(single, 0.5).toFixed(1)} ms, p99 ${quantile(single, 0.99).toFixed(1)} ms, max ${(single.at(-1) ?? 0).toFixed(1)} ms`)

    // Fleet-wide: every host flips svc01 at once.
    for (const k of [...seen.keys()]) if (k.startsWith('/hacheck/status/svc01/')) seen.delete(k)
    const w0 = await etcdMetrics(etcd)
    send({ set: 'svc01', state: 'down', hosts: Array.from({ length: HOSTS }, (_x, i) => i) })
    const at = Number((await next('set', 10_000)).at)
    const deadline = Date.now() + 60_000
    const wideKeys = Array.from({ length: HOSTS }, (_x, i) => `/hacheck/status/svc01/sim${String(i).padStart(5, '0')}`)
    while (wideKeys.some((k) => !seen.has(k)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    const wide = wideKeys.map((k) => (seen.get(k) ?? Number.NaN) - at).sort((a, b) => a - b)
    const allSeenMs = wide.at(-1) ?? Number.NaN
    const w1 = await etcdMetrics(etcd)
    const during = rate(w0, w1, Math.max(0.001, (nowMs() - at) / 1000))
    log(`fleet-wide change: all ${HOSTS} seen in ${allSeenMs.toFixed(0)} ms (p50 ${quantile(wide, 0.5).toFixed(0)}, p99 ${quantile(wide, 0.99).toFixed(0)}); ${fmtRate(during)}`)

    const final = await etcdMetrics(etcd)
    const dbMb = (final.etcd_mvcc_db_total_size_in_bytes ?? final.etcd_debugging_mvcc_db_total_size_in_bytes ?? Number.NaN) / 1024 / 1024
    const dbInUseMb = (final.etcd_mvcc_db_total_size_in_use_in_bytes ?? Number.NaN) / 1024 / 1024
    const etcdRss = rssMb(etcd.pid, readFileSync(`/proc/${etcd.pid}/status`, 'utf8'))

    const reader = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'servers', 'status-read.js'), etcd.url], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    reader.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    await new Promise((resolve) => reader.once('exit', resolve))
    const read = JSON.parse(out) as { rss_before_mb: number, rss_after_mb: number, records: number, read_ms: number }
    log(`reader: ${read.records} records, RSS ${read.rss_before_mb.toFixed(0)} -> ${read.rss_after_mb.toFixed(0)} MB, one read of all + one service ${read.read_ms.toFixed(0)} ms`)

    send({ stats: 1 })
    const stats = await next('stats', 10_000)
    const report = [
      `Run: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, Node ${process.version}, ${machine().cpu} (${machine().cores} cores), etcd on loopback, all ${HOSTS} hosts in one simulator process. Whole run ${Math.round((performance.now() - begun) / 1000)} s.`,
      '',
      '| measure | value |',
      '|---|---|',
      `| initial publish, ${HOSTS} hosts x ${SERVICES} services (${(HOSTS * SERVICES).toLocaleString('en-US')} records) | ${(initialMs / 1000).toFixed(1)} s |`,
      `| steady state (${STEADY} s, nothing changing, lease TTL ${TTL} s) | ${fmtRate(steady)} |`,
      `| single change -> a watcher of the whole prefix sees it (${ROUNDS} rounds) | p50 ${quantile(single, 0.5).toFixed(1)} ms, p99 ${quantile(single, 0.99).toFixed(1)} ms, max ${(single.at(-1) ?? 0).toFixed(1)} ms (target p99 < 1000: ${quantile(single, 0.99) < 1000 ? 'yes' : '**no**'}) |`,
      `| fleet-wide change (every host flips one service) | all seen in ${allSeenMs.toFixed(0)} ms (p50 ${quantile(wide, 0.5).toFixed(0)}, p99 ${quantile(wide, 0.99).toFixed(0)}); ${fmtRate(during)} |`,
      `| etcd DB size / in use | ${dbMb.toFixed(1)} MB / ${dbInUseMb.toFixed(1)} MB |`,
      `| etcd RSS | ${etcdRss.toFixed(0)} MB |`,
      `| hacheck reading the whole prefix (\`/fleet.json\`'s reader) | RSS ${read.rss_before_mb.toFixed(0)} -> ${read.rss_after_mb.toFixed(0)} MB holding ${read.records.toLocaleString('en-US')} records; one read of the prefix plus one service ${read.read_ms.toFixed(0)} ms |`,
      `| publisher transactions in all / hosts connected at the end | ${String(stats.writes)} / ${String(stats.connected)} of ${HOSTS} |`
    ].join('\n')
    process.stdout.write(`${report}\n`)
    if (process.env.BENCH_WRITE !== '0') {
      await writeResults(join(ROOT, 'bench', 'RESULTS.md'), report, { begin: '<!-- bench-fleet-status:begin (written by npm run bench:fleet-status) -->', end: '<!-- bench-fleet-status:end -->' })
    }
    await watcher.cancel()
  } finally {
    send({ stop: 1 })
    await Promise.race([new Promise((resolve) => sim.once('exit', resolve)), new Promise((resolve) => setTimeout(resolve, 10_000))])
    sim.kill('SIGKILL')
    watcherClient.close()
    await etcd.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
