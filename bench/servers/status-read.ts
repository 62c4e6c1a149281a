/**
 * The status bench's reader: what a hacheck's `/fleet.json` holds when it reads the whole
 * status prefix (`FleetStatusReader`). Arguments: the etcd URL. Writes one JSON line:
 * `{"rss_before_mb", "rss_after_mb", "records", "read_ms"}` (the RSS after five reads, the
 * last still held).
 */
import { performance } from 'node:perf_hooks'
import { makeConfig } from '../../src/config/index.js'
import { FleetStatusReader } from '../../src/fleet/status-reader.js'

const [url = ''] = process.argv.slice(2)
const settings = makeConfig({ fleet_etcd_endpoints: [url], fleet_host_name: 'reader' }).fleet
if (settings === null) throw new Error('no fleet')
const rss = (): number => process.memoryUsage().rss / 1024 / 1024
let now = 0
const reader = new FleetStatusReader(settings, () => now)
await reader.read().catch(() => undefined) // load etcd3 and connect: part of the baseline
const before = rss()
let records = 0
let readMs = 0
const held = []
for (let i = 0; i < 5; i++) {
  now += 2000 // past the one-second cache
  const t0 = performance.now()
  const answer = await reader.read('svc00')
  const all = await reader.read()
  readMs = performance.now() - t0
  records = all.services.reduce((n, s) => n + s.hosts, 0) + (answer.hosts?.length ?? 0) * 0
  held.push(all)
  if (held.length > 1) held.shift()
}
process.stdout.write(`${JSON.stringify({ rss_before_mb: before, rss_after_mb: rss(), records, read_ms: readMs })}\n`)
await reader.stop()
process.exit(0)
