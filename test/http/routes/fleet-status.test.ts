/**
 * The fleet's state in `/status`, `/metrics` and the status page, only when a fleet is
 * configured; the check routes answer from the fleet view (in memory, no etcd needed here).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { PageSnapshot } from '../../../src/http/page/snapshot.js'
import { FleetMirror } from '../../../src/fleet/view.js'
import { Spool } from '../../../src/spool/spool.js'
import { buildTestApp, tempDir } from '../../helper.js'
import { parsePrometheus, sampleValue } from '../../prometheus.js'

test('/status and /metrics: no fleet fields or gauges without a fleet', async (t) => {
  const { app } = await buildTestApp(t)
  assert.deepEqual(Object.keys((await app.inject('/status')).json()), ['cache', 'uptime', 'outbound_request_queue_size', 'outbound_slot_timeouts'])
  assert.ok(![...parsePrometheus((await app.inject('/metrics')).body).keys()].some((name) => name.startsWith('hacheck_fleet_')))
})

test('/status and /metrics: connected, revision, seconds since the last sync, entries', async (t) => {
  let now = 1_800_000_000
  const view = new FleetMirror({ prefix: '/hacheck/', host: 'web01', nowSeconds: () => now })
  const spool = new Spool(await tempDir(t), () => now, undefined, view)
  const { app } = await buildTestApp(t, {}, { spool, nowSeconds: () => now })

  let fleet = (await app.inject('/status')).json().fleet
  assert.deepEqual(fleet, { connected: false, revision: null, seconds_since_last_sync: null, entries: 0, host: 'web01', prefix: '/hacheck/', over_limit: null })
  let metrics = parsePrometheus((await app.inject('/metrics')).body)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_connected'), 0)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_last_sync_seconds'), Infinity, 'never synced')

  view.replace([{ key: '/hacheck/spool/web', value: Buffer.from('{"reason":"deploy","set_by":"alice@ops01"}'), modRevision: 41 }], 42)
  view.setConnected(true)
  const res = await app.inject('/spool/web/0/')
  assert.deepEqual([res.statusCode, res.body], [503, 'Service web in down state: deploy'])
  fleet = (await app.inject('/status')).json().fleet
  assert.deepEqual(fleet, { connected: true, revision: 42, seconds_since_last_sync: 0, entries: 1, host: 'web01', prefix: '/hacheck/', over_limit: null })
  metrics = parsePrometheus((await app.inject('/metrics')).body)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_connected'), 1)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_last_sync_seconds'), 0)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_entries'), 1)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_revision'), 42)

  view.setConnected(false)
  now += 90
  fleet = (await app.inject('/status')).json().fleet
  assert.equal(fleet.connected, false)
  assert.equal(fleet.seconds_since_last_sync, 90)
  assert.equal((await app.inject('/spool/web/0/')).statusCode, 503, 'the last state is kept')
  metrics = parsePrometheus((await app.inject('/metrics')).body)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_connected'), 0)
  assert.ok(Math.abs(sampleValue(metrics, 'hacheck_fleet_last_sync_seconds') - 90) < 1)
})

test('/page/data: fleet entries and weights with their source, and the fleet line', async (t) => {
  const now = 1_800_000_000
  const view = new FleetMirror({ prefix: '/hacheck/', host: 'web01', nowSeconds: () => now })
  const spool = new Spool(await tempDir(t), () => now, undefined, view)
  const { app } = await buildTestApp(t, {}, { spool, nowSeconds: () => now })
  view.replace([
    { key: '/hacheck/spool/web', value: Buffer.from('{"reason":"deploy","set_by":"alice@ops01"}'), modRevision: 3 },
    { key: '/hacheck/hosts/web01/spool/web', value: Buffer.from('{"reason":"disk","state":"drain"}'), modRevision: 4 },
    { key: '/hacheck/spool/old', value: Buffer.from(`{"reason":"gone","expiration":${now - 1}}`), modRevision: 5 },
    { key: '/hacheck/weight/web', value: Buffer.from('{"weight":30}'), modRevision: 6 }
  ], 10)
  view.setConnected(true)
  await spool.down({ service: 'web' }, { reason: 'local', state: 'drain' })
  const snap = JSON.parse((await app.inject('/page/data')).body) as PageSnapshot
  const web = snap.services.find((s) => s.name === 'web')
  assert.deepEqual(web?.spool.map((e) => `${e.source}:${e.state}:${e.reason}`), ['local:drain:local', 'host:drain:disk', 'fleet:down:deploy'], 'in lookup order')
  assert.equal(web?.state, 'down')
  assert.deepEqual(web?.weight, { percent: 30, file: 'web' })
  assert.equal(snap.services.some((s) => s.name === 'old'), false, 'an expired entry is absent')
  assert.deepEqual(snap.host.fleet, { connected: true, revision: 10, seconds_since_last_sync: 0, entries: 4, host: 'web01', prefix: '/hacheck/', over_limit: null })
})
