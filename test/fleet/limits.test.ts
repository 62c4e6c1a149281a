/**
 * The fleet's limits against a real etcd (docs/fleet.md "Limits"): a read larger than gRPC's
 * 4 MiB message limit completes in smaller pages (70 values of 63 KB, three of 1.4 MB) and
 * after an etcd restart; past `MAX_FLEET_ENTRIES` keys a host fails closed (every service down,
 * `/status`, metric, one log line, `hastatus`) instead of dropping downs; the writing tools
 * refuse a write that would pass the limit (exit 1, nothing written).
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Etcd3 } from 'etcd3'
import { makeConfig } from '../../src/config/index.js'
import { FleetWatcher, type FleetLog } from '../../src/fleet/watcher.js'
import { MAX_FLEET_ENTRIES } from '../../src/fleet/view.js'
import { Spool } from '../../src/spool/spool.js'
import { runTool } from '../cli/run-tool.js'
import { startEtcd, type EtcdMember } from '../etcd.js'
import { tempDir, waitFor } from '../helper.js'

interface Line { level: string, message: string }

function recordingLog (): FleetLog & { lines: Line[] } {
  const lines: Line[] = []
  const at = (level: string) => (_fields: Record<string, unknown>, message: string): void => { lines.push({ level, message }) }
  return { lines, warn: at('warn'), info: at('info'), debug: at('debug') }
}

function client (t: TestContext, member: EtcdMember): Etcd3 {
  const c = new Etcd3({ hosts: member.clientUrl })
  t.after(() => { c.close() })
  return c
}

async function watch (t: TestContext, etcd: EtcdMember, log: FleetLog = recordingLog()): Promise<{ fleet: FleetWatcher, spool: Spool }> {
  const spoolRoot = await tempDir(t)
  const config = makeConfig({ fleet_etcd_endpoints: [etcd.clientUrl], fleet_host_name: 'web01' })
  const fleet = await FleetWatcher.start({ config, log, spoolRoot, backoff: { initialMs: 50, maxMs: 300 } })
  t.after(async () => { await fleet.stop() })
  return { fleet, spool: await Spool.open(spoolRoot, { fleet: fleet.view }) }
}

const down = (reason: string): string => JSON.stringify({ reason, expiration: null, creation: 1, state: 'down', set_by: 'alice@ops01' })
const reasonOf = (spool: Spool, service: string): string | null => { const s = spool.isUp(service); return s.up ? null : s.entry.reason }

test('fleet: 70 values of 63 KB and three of 1.4 MB are read (in smaller pages), also after an etcd restart', async (t) => {
  const etcd = await startEtcd(t)
  const kv = client(t, etcd)
  const padding = 'p'.repeat(63 * 1024 - 200)
  for (let i = 0; i < 70; i++) await kv.put(`/hacheck/spool/big${i}`).value(JSON.stringify({ reason: `r${i}`, expiration: null, creation: 1, state: 'drain', pad: padding }))
  for (let i = 0; i < 3; i++) await kv.put(`/hacheck/hosts/web01/spool/huge${i}`).value('x'.repeat(1_400_000))
  const { fleet, spool } = await watch(t, etcd)
  assert.equal(await fleet.firstSync(15000), true, 'the first read completes')
  assert.equal(fleet.status().entries, 73)
  assert.match(reasonOf(spool, 'huge1') ?? '', /over the 65536-byte bound/, 'an oversized value is down, not lost')
  assert.equal(spool.isUp('big7').up, false)
  await kv.put('/hacheck/spool/web').value(down('new down'))
  await waitFor(async () => reasonOf(spool, 'web') ?? undefined, 5000, 'a new down is applied')

  // A fresh hacheck after an etcd restart resyncs too (etcd3's breaker no longer stays open).
  await etcd.kill()
  await waitFor(async () => fleet.status().connected ? undefined : true, 10000, 'the loss is seen')
  await etcd.start()
  await waitFor(async () => fleet.status().connected ? true : undefined, 20000, 'the watcher reconnects')
  const second = await watch(t, etcd)
  assert.equal(await second.fleet.firstSync(15000), true)
  assert.equal(second.fleet.status().entries, 74)
  await kv.put('/hacheck/spool/api').value(down('after restart'))
  await waitFor(async () => reasonOf(second.spool, 'api') ?? undefined, 5000, 'a new down after the restart')
  await waitFor(async () => reasonOf(spool, 'api') ?? undefined, 5000, 'the first watcher too')
})

test('fleet: past MAX_FLEET_ENTRIES keys the host fails closed and says so; the tools refuse writes past it', async (t) => {
  const etcd = await startEtcd(t)
  const kv = client(t, etcd)
  const value = Buffer.from(JSON.stringify({ reason: 'bulk', expiration: null, creation: 1, state: 'drain' }))
  // MAX_FLEET_ENTRIES - 1 keys, 128 per transaction (etcd's default --max-txn-ops).
  for (let start = 0; start < MAX_FLEET_ENTRIES - 1; start += 128) {
    const end = Math.min(MAX_FLEET_ENTRIES - 1, start + 128)
    await kv.kv.txn({ success: Array.from({ length: end - start }, (_, i) => ({ request_put: { key: Buffer.from(`/hacheck/hosts/web01/spool/s${start + i}`), value } })) })
  }
  const log = recordingLog()
  const { fleet, spool } = await watch(t, etcd, log)
  assert.equal(await fleet.firstSync(30000), true)
  assert.equal(fleet.status().overLimit, null)
  assert.equal(spool.isUp('web').up, true)

  const dir = await tempDir(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, JSON.stringify({ fleet_etcd_endpoints: [etcd.clientUrl], fleet_host_name: 'web01' }))
  await mkdir(join(dir, 'spool'))
  const tool = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await runTool('hadown', ['-c', config, '--spool-root', join(dir, 'spool'), ...args], { SUDO_USER: 'alice' })
  // The last key that fits: a fleet-wide down.
  assert.equal((await tool('--fleet', '-r', 'fits', 'web')).code, 0)
  await waitFor(async () => reasonOf(spool, 'web') ?? undefined, 5000, 'the down that fits')
  for (const args of [['--fleet', 'api'], ['--fleet-host', 'web01', 'api'], ['--fleet', 'api', 'db']]) {
    const r = await tool('-r', 'one too many', ...args)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /fleet limit: this write would give (every host|host web01) 1000[12] keys, over the 10000 a host holds; nothing was written/)
  }
  assert.equal((await kv.get('/hacheck/spool/api').string()), null, 'nothing was written')
  const rewrite = await tool('--fleet', '-r', 'same key again', 'web')
  assert.equal(rewrite.code, 0, 'rewriting an existing key adds none')

  // Another writer passes the limit anyway: the daemon fails closed rather than drop the down.
  await kv.put('/hacheck/hosts/web01/spool/payments').value(down('must not be lost'))
  await waitFor(async () => fleet.status().overLimit ?? undefined, 5000, 'over the limit')
  assert.deepEqual(fleet.status().overLimit, { keys: MAX_FLEET_ENTRIES + 1, limit: MAX_FLEET_ENTRIES })
  assert.match(reasonOf(spool, 'payments') ?? '', /^fleet view over its limit/)
  assert.match(reasonOf(spool, 'anything') ?? '', /^fleet view over its limit/)
  assert.equal(log.lines.filter((l) => /over the 10000 the view holds: every service answers down/.test(l.message)).length, 1, 'one log line')
  // hastatus says so, from the daemon's /status (here a stand-in answering what /status answers).
  const daemon = createServer((_req, res) => { res.end(JSON.stringify({ fleet: { connected: true, revision: 1, seconds_since_last_sync: 0, over_limit: fleet.status().overLimit } })) })
  await new Promise<void>((resolve) => daemon.listen(0, '127.0.0.1', resolve))
  t.after(() => { daemon.close() })
  const status = await runTool('hastatus', ['-c', config, '--spool-root', join(dir, 'spool'), '-p', String((daemon.address() as AddressInfo).port), 'payments'], { SUDO_USER: 'alice' })
  assert.match(status.stdout, /^DOWN\tinf\tpayments\tmust not be lost\thost:web01\talice@ops01$/m, status.stderr)
  assert.match(status.stdout, /^FLEET\tover-limit\t10001 keys for this host, over the 10000 its view holds: every service answers down$/m)

  // Back under: a full read, and every down held again.
  await kv.delete().key('/hacheck/hosts/web01/spool/s0')
  await waitFor(async () => fleet.status().overLimit === null ? true : undefined, 10000, 'within the limit again')
  assert.equal(reasonOf(spool, 'payments'), 'must not be lost')
  assert.equal(spool.isUp('anything').up, true)
  assert.ok(log.lines.some((l) => /within its limits again/.test(l.message)))
})
