/**
 * The propagation simulation's hosts: N fleet watchers in this one process, each exactly what a
 * hacheck runs (`startFleet`: range, watch from the next revision, its own view), each on its
 * own gRPC connection to etcd (a local subchannel pool per client), as N hosts would be.
 *
 * Argument: the etcd URL and N. Protocol, one JSON object per line: this process writes
 * `{"type":"ready","hosts":N,"ms":...}` once every watcher is connected; then, for each
 * `{"arm":"<key>","event":"put"|"delete"}` read on stdin, it answers `{"type":"armed"}` and,
 * once every host has applied that event, `{"type":"seen","times":[<unix ms per host>]}`.
 * Watchers that lose their connection are counted in `{"type":"stats"}` (stdin `{"stats":1}`).
 */
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { makeConfig } from '../../src/config/index.js'
import { FleetWatcher, type FleetLog } from '../../src/fleet/watcher.js'

const [url = '', countText = '1000'] = process.argv.slice(2)
const count = Number(countText)
const nowMs = (): number => performance.timeOrigin + performance.now()
const write = (doc: unknown): void => { process.stdout.write(`${JSON.stringify(doc)}\n`) }

let armed: { key: string, event: string, times: Float64Array, seen: Uint8Array, left: number } | null = null
let losses = 0
const quiet: FleetLog = { debug: () => {}, info: () => {}, warn: (_f, message) => { if (message.includes('lost etcd') || message.includes('cannot reach')) losses++ } }

const fleets: FleetWatcher[] = []
const started = nowMs()
const BATCH = 50
for (let i = 0; i < count; i += BATCH) {
  const batch = await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, async (_x, j) => {
    const index = i + j
    const fleet = await FleetWatcher.start({
      config: makeConfig({ fleet_etcd_endpoints: [url], fleet_host_name: `sim${String(index).padStart(5, '0')}` }),
      log: quiet,
      grpcOptions: { 'grpc.use_local_subchannel_pool': 1 },
      onChange: (type, key) => {
        const a = armed
        if (a === null || a.seen[index] === 1 || key !== a.key || type !== a.event) return
        a.seen[index] = 1
        a.times[index] = nowMs()
        if (--a.left === 0) { write({ type: 'seen', times: Array.from(a.times) }); armed = null }
      }
    })
    if (!await fleet.firstSync(60000)) throw new Error(`simulated host ${index} did not connect`)
    return fleet
  }))
  fleets.push(...batch)
}
write({ type: 'ready', hosts: fleets.length, ms: nowMs() - started })

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { arm?: string, event?: string, stats?: number, stop?: number }
  if (cmd.arm !== undefined) {
    armed = { key: cmd.arm, event: cmd.event ?? 'put', times: new Float64Array(count), seen: new Uint8Array(count), left: count }
    write({ type: 'armed' })
  } else if (cmd.stats !== undefined) {
    write({ type: 'stats', losses, connected: fleets.filter((f) => f.status().connected).length })
  } else if (cmd.stop !== undefined) {
    break
  }
}
await Promise.all(fleets.map(async (f) => { await f.stop() }))
process.exit(0)
