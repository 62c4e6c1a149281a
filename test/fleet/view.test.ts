/**
 * The fleet view without etcd: key names, the precedence of local, host and fleet entries at
 * each lookup step, expiry, the revision rule that lets a resync and a replaying watch agree,
 * the bound on keys held, and the snapshot file read back as hostile input.
 */
import assert from 'node:assert/strict'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseFleetKey, watchPrefixes } from '../../src/fleet/keys.js'
import { loadSnapshot, saveSnapshot } from '../../src/fleet/snapshot.js'
import { FleetMirror, MAX_FLEET_ENTRIES, type FleetKv } from '../../src/fleet/view.js'
import { Spool } from '../../src/spool/spool.js'
import { tempSpool, tempDir } from '../helper.js'

const NOW = 1_800_000_000
const value = (fields: Record<string, unknown>): Uint8Array => Buffer.from(JSON.stringify({ reason: 'r', expiration: null, creation: 1, ...fields }))
const kv = (key: string, fields: Record<string, unknown>, modRevision = 5): FleetKv => ({ key, value: value(fields), modRevision })

function mirror (warnings: string[] = []): FleetMirror {
  return new FleetMirror({ prefix: '/hacheck/', host: 'web01', nowSeconds: () => NOW, warn: (_f, m) => { warnings.push(m) } })
}

/** `<source>:<state>:<reason>` of a lookup, or `up`. */
function answer (spool: Spool, service: string, port?: number): string {
  const s = spool.isUp(service, port)
  return s.up ? 'up' : `${s.entry.source ?? 'local'}:${s.entry.state}:${s.entry.reason}`
}

test('fleet keys: the layout, and names that are not spool names are not keys', () => {
  assert.deepEqual(watchPrefixes('/hacheck/', 'web01'), ['/hacheck/spool/', '/hacheck/weight/', '/hacheck/hosts/web01/'])
  assert.deepEqual(parseFleetKey('/hacheck/', '/hacheck/spool/web:10.0.0.5:8080'),
    { scope: 'fleet', kind: 'spool', host: undefined, file: 'web:10.0.0.5:8080', key: { service: 'web', port: 8080, host: '10.0.0.5' } })
  assert.deepEqual(parseFleetKey('/hacheck/', '/hacheck/hosts/web01/weight/all'),
    { scope: 'host', kind: 'weight', host: 'web01', file: 'all', key: { service: 'all' } })
  for (const bad of ['/hacheck/spool/..', '/hacheck/spool/', '/hacheck/spool/a b', '/hacheck/spool/web:0', '/hacheck/spool/web:99999',
    '/hacheck/spool/a/b', '/hacheck/hosts/../spool/web', '/hacheck/hosts/web01/other/web', '/hacheck/x/web', '/other/spool/web']) {
    assert.equal(parseFleetKey('/hacheck/', bad), null, bad)
  }
})

test('fleet view: local, then this host, then the fleet at each step; down and maint end the lookup, drain waits', async (t) => {
  const view = mirror()
  const spool = new Spool((await tempSpool(t)).root, () => NOW, undefined, view)
  view.replace([
    kv('/hacheck/spool/web', { reason: 'fleet drain', state: 'drain' }),
    kv('/hacheck/hosts/web01/spool/web', { reason: 'host maint', state: 'maint' }),
    kv('/hacheck/spool/api', { reason: 'fleet down' }),
    kv('/hacheck/hosts/web01/spool/api', { reason: 'host drain', state: 'drain' }),
    kv('/hacheck/spool/all', { reason: 'fleet drains the host', state: 'drain' }),
    kv('/hacheck/spool/db:5432', { reason: 'one port' }),
    kv('/hacheck/spool/old', { reason: 'expired', expiration: NOW - 1 }),
    kv('/hacheck/spool/soon', { reason: 'not yet', expiration: NOW + 60 })
  ], 10)
  assert.equal(answer(spool, 'web'), 'host:maint:host maint', 'host before fleet; maint beats the broader drain')
  assert.equal(answer(spool, 'api'), 'fleet:down:fleet down', 'a fleet down beats a host drain at the same step')
  assert.equal(answer(spool, 'cache'), 'fleet:drain:fleet drains the host', 'a drain alone is returned')
  assert.equal(answer(spool, 'db', 5432), 'fleet:down:one port')
  assert.equal(answer(spool, 'db', 5433), 'fleet:drain:fleet drains the host')
  assert.equal(answer(spool, 'old'), 'fleet:drain:fleet drains the host', 'an expired entry counts as absent')
  assert.equal(answer(spool, 'soon'), 'fleet:down:not yet')

  await spool.down({ service: 'api' }, { reason: 'local drain', state: 'drain' })
  assert.equal(answer(spool, 'api'), 'fleet:down:fleet down', 'a local drain does not hide a fleet down')
  await spool.down({ service: 'api' }, { reason: 'local down' })
  assert.equal(answer(spool, 'api'), 'local:down:local down', 'the local file first at each step')
  await spool.down({ service: 'all' }, { reason: 'local host drain', state: 'drain' })
  assert.equal(answer(spool, 'cache'), 'local:drain:local host drain', 'ties between drains go to the local file')
})

test('fleet view: changes at or below the read revision are skipped; later ones apply in order', () => {
  const view = mirror()
  view.replace([kv('/hacheck/spool/web', { reason: 'read at 10' }, 8)], 10)
  view.apply('delete', { key: '/hacheck/spool/web', value: new Uint8Array(), modRevision: 9 })
  assert.equal(view.entries().length, 1, 'a replayed delete from before the read is skipped')
  view.apply('put', kv('/hacheck/spool/api', {}, 11))
  view.apply('delete', { key: '/hacheck/spool/web', value: new Uint8Array(), modRevision: 12 })
  assert.deepEqual(view.entries().map((e) => e.file), ['api'])
  assert.equal(view.status().revision, 12)
})

test('fleet view: a re-read says whether anything changed (a reconnect that reads the same keys writes no snapshot)', () => {
  const view = mirror()
  assert.equal(view.replace([kv('/hacheck/spool/web', {}, 8)], 10), true)
  assert.equal(view.replace([kv('/hacheck/spool/web', {}, 8)], 14), false, 'same keys at a later revision')
  assert.equal(view.replace([kv('/hacheck/spool/web', {}, 13)], 14), true, 'rewritten')
  assert.equal(view.replace([kv('/hacheck/spool/web', {}, 13), kv('/hacheck/spool/api', {}, 14)], 15), true, 'added')
  assert.equal(view.replace([kv('/hacheck/spool/api', {}, 14)], 16), true, 'removed')
})

test('fleet view: weights are the lowest of host and fleet; a bad one fails closed', () => {
  const view = mirror()
  view.replace([
    { key: '/hacheck/weight/web', value: Buffer.from('{"weight":30}'), modRevision: 3 },
    { key: '/hacheck/hosts/web01/weight/web', value: Buffer.from('{"weight":60,"set_by":"bob@ops"}'), modRevision: 3 },
    { key: '/hacheck/weight/api', value: Buffer.from('{"weight":"half"}'), modRevision: 3 }
  ], 5)
  assert.deepEqual(view.weight('web'), { key: { service: 'web' }, file: 'web', weight: 30, creation: null, source: 'fleet', setBy: null })
  assert.equal(view.weight('db'), null)
  assert.throws(() => view.weight('api'), { code: 'HC_ERR_SPOOL_WEIGHT' })
})

test('fleet view: past MAX_FLEET_ENTRIES keys it fails closed (every lookup down, weights fail), never drops a down silently', () => {
  const view = mirror()
  const UP = { up: true } as const
  view.replace([], 1)
  for (let i = 0; i < MAX_FLEET_ENTRIES; i++) view.apply('put', { ...kv(`/hacheck/spool/svc${i}`, { reason: 'r', state: 'drain' }, 2 + i), created: true })
  assert.equal(view.status().overLimit, null)
  assert.equal(view.merge(UP, 'web').up, true, 'within the limit: what is held')
  // One more down, for a service the view cannot hold: everything answers down, saying why.
  assert.equal(view.apply('put', { ...kv('/hacheck/spool/web', { reason: 'must not be lost' }, 20000), created: true }), false)
  assert.deepEqual(view.status().overLimit, { keys: MAX_FLEET_ENTRIES + 1, limit: MAX_FLEET_ENTRIES })
  const web = view.merge(UP, 'web')
  assert.ok(!web.up)
  assert.match(web.entry.reason, /^fleet view over its limit \(10001 keys for host web01 under \/hacheck\/, over the 10000 it holds\): down until fewer/)
  assert.equal(view.merge(UP, 'anything').up, false)
  assert.throws(() => view.weight('web'), { code: 'HC_ERR_SPOOL_WEIGHT' })
  // A rewrite of the unheld key is not counted twice; a held key going away asks for a full read.
  view.apply('put', { ...kv('/hacheck/spool/web', { reason: 'again' }, 20001), created: false })
  assert.equal(view.status().overLimit?.keys, MAX_FLEET_ENTRIES + 1)
  assert.equal(view.apply('delete', kv('/hacheck/spool/svc0', {}, 20002)), true, 'a resync is needed')
  // The full read then holds everything again.
  const all = [kv('/hacheck/spool/web', { reason: 'must not be lost' }, 20000)]
  for (let i = 1; i < MAX_FLEET_ENTRIES; i++) all.push(kv(`/hacheck/spool/svc${i}`, { reason: 'r', state: 'drain' }, 2 + i))
  view.replace(all, 20002)
  assert.equal(view.status().overLimit, null)
  const held = view.merge(UP, 'web')
  assert.ok(!held.up && held.entry.reason === 'must not be lost')
  // A read that stopped at the bound (total over what it returned) fails closed at once.
  view.replace(all.slice(0, 10), 20003, 0, 12000)
  assert.deepEqual(view.status().overLimit, { keys: 12000, limit: MAX_FLEET_ENTRIES })
  assert.equal(view.merge(UP, 'web').up, false)
})

test('fleet snapshot: a view over its limit is written as such, and read back it fails closed again', async (t) => {
  const root = await tempDir(t)
  const view = mirror()
  view.replace([kv('/hacheck/spool/web', { reason: 'held' })], 7, 0, 10_500)
  assert.deepEqual(view.status().overLimit, { keys: 10_500, limit: MAX_FLEET_ENTRIES })
  await saveSnapshot(root, { prefix: '/hacheck/', host: 'web01', ...view.dump() })
  const snap = await loadSnapshot(root, '/hacheck/', 'web01')
  assert.equal(snap?.unheld, 10_499)
  const restarted = mirror()
  restarted.replace(snap?.kvs ?? [], snap?.revision ?? 0, null, (snap?.kvs.length ?? 0) + (snap?.unheld ?? 0))
  assert.deepEqual(restarted.status().overLimit, { keys: 10_500, limit: MAX_FLEET_ENTRIES })
  assert.equal(restarted.merge({ up: true }, 'api').up, false, 'a restart while etcd is away still fails closed')
})

test('fleet snapshot: written and read back for the same prefix and host only; junk and links are not read', async (t) => {
  const root = await tempDir(t)
  const view = mirror()
  view.replace([kv('/hacheck/spool/web', { reason: 'kept' }), kv('/hacheck/hosts/web01/weight/all', { weight: 50 })], 7)
  await saveSnapshot(root, { prefix: '/hacheck/', host: 'web01', ...view.dump() })
  const snap = await loadSnapshot(root, '/hacheck/', 'web01')
  assert.equal(snap?.revision, 7)
  const restored = mirror()
  restored.replace(snap?.kvs ?? [], snap?.revision ?? 0)
  assert.deepEqual(restored.entries(), view.entries())
  assert.equal(restored.weight('all')?.weight, 50)
  assert.equal(await loadSnapshot(root, '/hacheck/', 'web02'), null, 'another host\'s snapshot')
  assert.equal(await loadSnapshot(root, '/other/', 'web01'), null, 'another prefix\'s snapshot')

  const other = await tempDir(t)
  await mkdir(join(other, '@fleet'))
  await writeFile(join(other, 'target.json'), JSON.stringify({ hacheck_fleet_snapshot: 1, prefix: '/hacheck/', host: 'web01', revision: 1, kvs: [] }))
  await symlink(join(other, 'target.json'), join(other, '@fleet', 'view.json'))
  assert.equal(await loadSnapshot(other, '/hacheck/', 'web01'), null, 'a symlink is not followed')
  const junk = await tempDir(t)
  await mkdir(join(junk, '@fleet'))
  await writeFile(join(junk, '@fleet', 'view.json'), JSON.stringify({ hacheck_fleet_snapshot: 1, prefix: '/hacheck/', host: 'web01', revision: 3, kvs: [['/hacheck/spool/a', 1, '{}'], 'junk', [1, 2, 3], ['/hacheck/spool/..', 1, '{}']] }))
  const partial = await loadSnapshot(junk, '/hacheck/', 'web01')
  assert.equal(partial?.kvs.length, 2, 'rows that are not [key, revision, value] are dropped')
  const fromJunk = mirror()
  fromJunk.replace(partial?.kvs ?? [], 3)
  assert.deepEqual(fromJunk.entries().map((e) => e.file), ['a'], 'and keys go through the same checks as etcd\'s')
})
