/**
 * The status bench's hosts: N status publishers in this one process, each exactly what a
 * hacheck runs (`StatusPublisher`: one lease, write on change, at most one transaction a
 * second) on its own gRPC connection, each publishing S services from memory.
 *
 * Arguments: the etcd URL, N, S, the lease TTL. Protocol, one JSON object per line: this
 * process writes `{"type":"ready","ms":...}` once every host has published every record; for
 * `{"set":"<service>","state":"up"|"down","hosts":[<index>...]}` on stdin it changes those
 * hosts' record, pokes their publishers, and answers `{"type":"set","at":<unix ms>}`;
 * `{"stats":1}` gives `{"type":"stats","writes":<transactions so far>,"connected":<hosts>}`.
 */
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { makeConfig } from '../../src/config/index.js'
import { StatusPublisher } from '../../src/fleet/publisher.js'
import type { StatusRecord } from '../../src/fleet/status.js'

const [url = '', countText = '1000', servicesText = '20', ttlText = '30'] = process.argv.slice(2)
const count = Number(countText)
const services = Array.from({ length: Number(servicesText) }, (_x, i) => `svc${String(i).padStart(2, '0')}`)
const nowMs = (): number => performance.timeOrigin + performance.now()
const write = (doc: unknown): void => { process.stdout.write(`${JSON.stringify(doc)}\n`) }
const quiet = { debug: () => {}, info: () => {}, warn: () => {} }
const started = nowMs()
const since = Math.floor(Date.now() / 1000)

const states = Array.from({ length: count }, () => new Map<string, StatusRecord>(services.map((s) => [s, { state: 'up', code: 200, check_status: 'L7OK', reason: '', since, weight: null, confirmed: since }])))
let writes = 0
const publishers: StatusPublisher[] = []
const BATCH = 50
for (let i = 0; i < count; i += BATCH) {
  for (let j = i; j < Math.min(count, i + BATCH); j++) {
    const settings = makeConfig({ fleet_etcd_endpoints: [url], fleet_host_name: `sim${String(j).padStart(5, '0')}` }).fleet
    if (settings === null) throw new Error('no fleet')
    const p = new StatusPublisher({
      settings,
      ttlSeconds: Number(ttlText),
      records: async () => new Map(states[j]),
      log: quiet,
      grpcOptions: { 'grpc.use_local_subchannel_pool': 1 },
      onWrite: () => { writes++ }
    })
    await p.start()
    publishers.push(p)
  }
  while (publishers.some((p) => p.status().records < services.length)) await new Promise((resolve) => setTimeout(resolve, 50))
}
write({ type: 'ready', ms: nowMs() - started })

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { set?: string, state?: 'up' | 'down', hosts?: number[], stats?: number, stop?: number }
  if (cmd.set !== undefined) {
    const at = nowMs()
    for (const i of cmd.hosts ?? []) {
      const rec = states[i]?.get(cmd.set)
      if (rec === undefined) continue
      states[i]?.set(cmd.set, { ...rec, state: cmd.state ?? 'down', code: cmd.state === 'up' ? 200 : 503, since: Math.floor(Date.now() / 1000) })
      publishers[i]?.poke()
    }
    write({ type: 'set', at })
  } else if (cmd.stats !== undefined) {
    write({ type: 'stats', writes, connected: publishers.filter((p) => p.status().connected).length })
  } else if (cmd.stop !== undefined) {
    break
  }
}
await Promise.all(publishers.map(async (p) => { await p.stop() }))
process.exit(0)
