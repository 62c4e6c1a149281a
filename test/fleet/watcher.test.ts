/**
 * The fleet watcher against a real etcd member: the first read, changes as they happen, the loss
 * and return of etcd (each logged once, the last state kept meanwhile), etcd away at start, the
 * snapshot that survives a restart, and hostile keys and values.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test, type TestContext } from 'node:test'
import { Etcd3 } from 'etcd3'
import { makeConfig } from '../../src/config/index.js'
import { FleetWatcher, type FleetLog } from '../../src/fleet/watcher.js'
import { Spool } from '../../src/spool/spool.js'
import { SpoolWeights } from '../../src/spool/weight.js'
import { startEtcd, testCertificates, type EtcdMember } from '../etcd.js'
import { freePort, HANG_MS, tempDir, waitFor } from '../helper.js'

interface Line { level: string, fields: Record<string, unknown>, message: string }

function recordingLog (): FleetLog & { lines: Line[], count: (re: RegExp) => number } {
  const lines: Line[] = []
  const at = (level: string) => (fields: Record<string, unknown>, message: string): void => { lines.push({ level, fields, message }) }
  return { lines, warn: at('warn'), info: at('info'), debug: at('debug'), count: (re) => lines.filter((l) => l.level !== 'debug' && re.test(l.message)).length }
}

function client (t: TestContext, member: EtcdMember): Etcd3 {
  const c = new Etcd3({ hosts: member.clientUrl })
  t.after(() => { c.close() })
  return c
}

async function fleetOn (t: TestContext, endpoints: string[], spoolRoot: string, log: FleetLog): Promise<{ fleet: FleetWatcher, spool: Spool }> {
  const config = makeConfig({ fleet_etcd_endpoints: endpoints, fleet_host_name: 'web01' })
  const fleet = await FleetWatcher.start({ config, log, spoolRoot, backoff: { initialMs: 50, maxMs: 300 } })
  t.after(async () => { await fleet.stop() })
  return { fleet, spool: await Spool.open(spoolRoot, { fleet: fleet.view }) }
}

const down = (reason: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ reason, expiration: null, creation: 1, state: 'down', set_by: 'alice@ops01', ...extra })
const reasonOf = (spool: Spool, service: string, port?: number): string | null => {
  const state = spool.isUp(service, port)
  return state.up ? null : `${state.entry.source ?? 'local'}:${state.entry.reason}`
}

test('fleet: reads the keys, then follows every change within moments', async (t) => {
  const etcd = await startEtcd(t)
  const kv = client(t, etcd)
  await kv.put('/hacheck/spool/web').value(down('deploy 42'))
  await kv.put('/hacheck/hosts/web02/spool/api').value(down('another host'))
  const log = recordingLog()
  const { fleet, spool } = await fleetOn(t, [etcd.clientUrl], await tempDir(t), log)
  assert.equal(await fleet.firstSync(5000), true)
  assert.equal(reasonOf(spool, 'web'), 'fleet:deploy 42')
  assert.equal(reasonOf(spool, 'api'), null, 'another host\'s key does not apply here')
  const entry = spool.isUp('web')
  assert.equal(entry.up ? null : entry.entry.setBy, 'alice@ops01')

  await kv.put('/hacheck/hosts/web01/spool/api:8080').value(down('disk'))
  await waitFor(async () => reasonOf(spool, 'api', 8080) ?? undefined, 2000, 'the host key')
  assert.equal(reasonOf(spool, 'api', 8080), 'host:disk')
  assert.equal(reasonOf(spool, 'api', 9090), null)
  await kv.delete().key('/hacheck/spool/web')
  await waitFor(async () => spool.isUp('web').up ? true : undefined, 2000, 'the delete')
  await kv.put('/hacheck/weight/web').value(JSON.stringify({ weight: 30, creation: 1 }))
  await kv.put('/hacheck/hosts/web01/weight/all').value(JSON.stringify({ weight: 60, creation: 1 }))
  const weights = new SpoolWeights(spool)
  await waitFor(async () => (await weights.effective('web'))?.weight === 30 ? true : undefined, 2000, 'the weights')
  await weights.set({ service: 'web' }, 10)
  assert.equal((await weights.effective('web'))?.weight, 10, 'the lowest weight wins, whatever its source')
  const st = fleet.status()
  assert.equal(st.connected, true)
  assert.equal(st.entries, 3)
  assert.equal(log.count(/lost|cannot reach/), 0)
})

test('fleet: etcd lost and back: the last state is kept, each event logged once, the view resyncs', async (t) => {
  const etcd = await startEtcd(t)
  const kv = client(t, etcd)
  await kv.put('/hacheck/spool/web').value(down('kept'))
  await kv.put('/hacheck/spool/api').value(down('changes while away'))
  const log = recordingLog()
  const { fleet, spool } = await fleetOn(t, [etcd.clientUrl], await tempDir(t), log)
  assert.equal(await fleet.firstSync(5000), true)
  await etcd.kill()
  await waitFor(async () => fleet.status().connected ? undefined : true, 5000, 'the loss')
  assert.equal(reasonOf(spool, 'web'), 'fleet:kept', 'a down stays down')
  assert.equal(reasonOf(spool, 'db'), null, 'an up stays up')
  // Several failed reconnects (each logs at debug only), counted rather than guessed from a delay.
  const retries = (): number => log.lines.filter((l) => l.level === 'debug' && /still unreachable/.test(l.message)).length
  await waitFor(async () => retries() >= 3 ? true : undefined, HANG_MS, 'three failed reconnects')
  assert.equal(log.count(/lost etcd/), 1)
  assert.ok(fleet.status().syncedAt !== null)

  await etcd.start()
  const kv2 = client(t, etcd)
  await kv2.delete().key('/hacheck/spool/api')
  await kv2.put('/hacheck/spool/db').value(down('new'))
  await waitFor(async () => reasonOf(spool, 'db') !== null && spool.isUp('api').up ? true : undefined, 5000, 'the resync')
  assert.equal(fleet.status().connected, true)
  assert.equal(log.count(/etcd is back/), 1)
  assert.equal(log.count(/lost etcd/), 1)
})

test('fleet: etcd away at start: local spool and snapshot serve, the view follows once etcd is up', async (t) => {
  const root = await tempDir(t)
  const etcd = await startEtcd(t)
  const kv = client(t, etcd)
  await kv.put('/hacheck/spool/web').value(down('from the snapshot'))
  {
    const log = recordingLog()
    const { fleet } = await fleetOn(t, [etcd.clientUrl], root, log)
    assert.equal(await fleet.firstSync(5000), true)
    await fleet.stop() // writes the snapshot
  }
  await etcd.kill()
  const log = recordingLog()
  const { fleet, spool } = await fleetOn(t, [etcd.clientUrl], root, log)
  assert.equal(await fleet.firstSync(3000), false, 'the first attempt fails at once')
  assert.equal(reasonOf(spool, 'web'), 'fleet:from the snapshot', 'the last fleet state survives the restart')
  await spool.down({ service: 'api' }, { reason: 'local' })
  assert.equal(reasonOf(spool, 'api'), 'local:local')
  await waitFor(async () => log.count(/cannot reach etcd/) === 1 ? true : undefined, 2000, 'the warning')
  await etcd.start()
  await waitFor(async () => fleet.status().connected ? true : undefined, 5000, 'the connection')
  await client(t, etcd).delete().key('/hacheck/spool/web')
  await waitFor(async () => spool.isUp('web').up ? true : undefined, 3000, 'the delete after the start')
  assert.equal(log.count(/cannot reach etcd/), 1)
})

test('fleet: an unreachable endpoint list: checks are never failed by the control plane', async (t) => {
  const port = await freePort()
  const log = recordingLog()
  const { fleet, spool } = await fleetOn(t, [`http://127.0.0.1:${port}`], await tempDir(t), log)
  assert.equal(await fleet.firstSync(3000), false)
  assert.equal(spool.isUp('web').up, true)
  assert.deepEqual(fleet.status(), { connected: false, revision: null, syncedAt: null, lastSyncAgeSeconds: null, entries: 0, host: 'web01', prefix: '/hacheck/', overLimit: null })
})

test('fleet: hostile keys and values: down (fail closed) or ignored, one warning each, nothing crashes', async (t) => {
  const etcd = await startEtcd(t)
  const kv = client(t, etcd)
  await kv.put('/hacheck/spool/legacy').value('not json at all')
  await kv.put('/hacheck/spool/huge').value(Buffer.alloc(70 * 1024, 'x'))
  await kv.put('/hacheck/spool/..').value(down('dot dot'))
  await kv.put('/hacheck/spool/we b').value(down('bad name'))
  await kv.put('/hacheck/spool/web/extra').value(down('too deep'))
  await kv.put('/hacheck/other/web').value(down('unknown subtree')) // not watched: never even read
  await kv.put('/hacheck/weight/web').value('{"weight": 9000}')
  await kv.put('/hacheck/spool/long').value(down('r'.repeat(5000)))
  const log = recordingLog()
  const root = await tempDir(t)
  const { fleet, spool } = await fleetOn(t, [etcd.clientUrl], root, log)
  assert.equal(await fleet.firstSync(5000), true)
  assert.equal(reasonOf(spool, 'legacy'), 'fleet:not json at all', 'read as a legacy entry, as the local spool does')
  assert.match(reasonOf(spool, 'huge') ?? '', /^fleet:fleet entry unreadable \(value of 71680 bytes/)
  assert.ok((reasonOf(spool, 'long') ?? '').length < 1100, 'reasons are bounded')
  assert.equal(spool.isUp('web').up, true, 'keys with bad names are ignored')
  await assert.rejects(new SpoolWeights(spool).effective('web'), { code: 'HC_ERR_SPOOL_WEIGHT' })
  const warnings = log.lines.filter((l) => l.level === 'warn')
  assert.equal(warnings.length, 6, warnings.map((w) => w.message).join('\n'))
  assert.ok(warnings.every((w) => !JSON.stringify(w).includes('not json at all')), 'values are never logged')
  // A resync re-reads the same keys: no second warning.
  await etcd.kill()
  await etcd.start()
  await waitFor(async () => log.count(/etcd is back/) === 1 ? true : undefined, 5000, 'the resync')
  assert.equal(log.lines.filter((l) => l.level === 'warn' && /fleet (key|value|weight)|invalid fleet/.test(l.message)).length, 6)
})

test('fleet: TLS with a client certificate, files named in the config; a wrong CA never connects', async (t) => {
  const certs = await testCertificates(t)
  const etcd = await startEtcd(t, { tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca } })
  const tls = { fleet_etcd_ca_file: certs.ca, fleet_etcd_cert_file: certs.clientCert, fleet_etcd_key_file: certs.clientKey }
  const kv = new Etcd3({ hosts: etcd.clientUrl, credentials: { rootCertificate: await readFile(certs.ca), certChain: await readFile(certs.clientCert), privateKey: await readFile(certs.clientKey) } })
  t.after(() => { kv.close() })
  await waitFor(async () => { await kv.put('/hacheck/spool/web').value(down('over tls')); return true }, 10000, 'etcd over TLS')
  const root = await tempDir(t)
  const fleet = await FleetWatcher.start({ config: makeConfig({ fleet_etcd_endpoints: [etcd.clientUrl], fleet_host_name: 'web01', ...tls }), log: recordingLog(), spoolRoot: root })
  t.after(async () => { await fleet.stop() })
  assert.equal(await fleet.firstSync(5000), true)
  assert.equal(reasonOf(new Spool(root, undefined, undefined, fleet.view), 'web'), 'fleet:over tls')

  const other = await testCertificates(t)
  const log = recordingLog()
  const wrong = await FleetWatcher.start({ config: makeConfig({ fleet_etcd_endpoints: [etcd.clientUrl], fleet_host_name: 'web01', ...tls, fleet_etcd_ca_file: other.ca }), log })
  t.after(async () => { await wrong.stop() })
  assert.equal(await wrong.firstSync(5000), false)
  assert.equal(log.count(/cannot reach etcd/), 1)
})
