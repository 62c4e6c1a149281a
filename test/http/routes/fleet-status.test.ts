/**
 * The fleet's state in `/status` and `/metrics`, only when a fleet is configured; the check
 * routes answer from the fleet view (in memory, no etcd needed here).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FleetMirror } from '../../../src/spool/fleet-view.js'
import { Spool } from '../../../src/spool/spool.js'
import { buildTestApp, tempDir } from '../../helper.js'
import { parsePrometheus, sampleValue } from '../../prometheus.js'

test('/status and /metrics: no fleet fields or gauges without a fleet', async (t) => {
  const { app } = await buildTestApp(t)
  assert.deepEqual(Object.keys((await app.inject('/status')).json()), ['cache', 'uptime', 'outbound_request_queue_size'])
  assert.ok(![...parsePrometheus((await app.inject('/metrics')).body).keys()].some((name) => name.startsWith('hacheck_fleet_')))
})

test('/status and /metrics: connected, revision, seconds since the last sync, entries', async (t) => {
  let now = 1_800_000_000
  const view = new FleetMirror({ prefix: '/hacheck/', host: 'web01', now: () => now })
  const spool = new Spool(await tempDir(t), () => now, undefined, view)
  const { app } = await buildTestApp(t, {}, { spool, now: () => now })

  let fleet = (await app.inject('/status')).json().fleet
  assert.deepEqual(fleet, { connected: false, revision: null, seconds_since_last_sync: null, entries: 0, host: 'web01', prefix: '/hacheck/' })
  let metrics = parsePrometheus((await app.inject('/metrics')).body)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_connected'), 0)
  assert.equal(sampleValue(metrics, 'hacheck_fleet_last_sync_seconds'), Infinity, 'never synced')

  view.replace([{ key: '/hacheck/spool/web', value: Buffer.from('{"reason":"deploy","set_by":"alice@ops01"}'), modRevision: 41 }], 42)
  view.setConnected(true)
  const res = await app.inject('/spool/web/0/')
  assert.deepEqual([res.statusCode, res.body], [503, 'Service web in down state: deploy'])
  fleet = (await app.inject('/status')).json().fleet
  assert.deepEqual(fleet, { connected: true, revision: 42, seconds_since_last_sync: 0, entries: 1, host: 'web01', prefix: '/hacheck/' })
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
