import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../../helper.js'

const JSON_TYPE = 'application/json; charset=UTF-8'

test('/status: cache counters, uptime in seconds, outbound queue size', async (t) => {
  let now = 1000
  const { app } = await buildTestApp(t, {}, { nowSeconds: () => now, startTime: 990 })
  now = 1002.5
  const res = await app.inject('/status')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], JSON_TYPE)
  assert.deepEqual(res.json(), {
    cache: { gets: 0, hits: 0, misses: 0, sets: 0, expirations: 0 },
    uptime: 12.5,
    outbound_request_queue_size: 0,
    outbound_slot_timeouts: 0
  })
})

test('spool checks do not touch the cache counters', async (t) => {
  const { app } = await buildTestApp(t)
  for (let i = 0; i < 3; i++) await app.inject('/spool/web/0/')
  assert.deepEqual((await app.inject('/status')).json().cache, { gets: 0, hits: 0, misses: 0, sets: 0, expirations: 0 })
})

test('/status/count starts empty', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject('/status/count')
  assert.equal(res.headers['content-type'], JSON_TYPE)
  assert.deepEqual(res.json(), { service_access_counts: {}, uncounted_requests: 0, max_counted_pairs: 4096 })
})

test('/recent: threshold defaults to 600 and filters by age', async (t) => {
  let now = 10000
  const { app } = await buildTestApp(t, {}, { nowSeconds: () => now })
  await app.inject({ url: '/spool/old/0/', remoteAddress: '10.0.0.1' })
  now = 10500
  await app.inject({ url: '/spool/new/0/', remoteAddress: '10.0.0.2' })
  now = 10700
  let res = await app.inject('/recent')
  assert.equal(res.headers['content-type'], JSON_TYPE)
  assert.deepEqual(res.json(), {
    seen_services: [['new', { code: 200, remote_ip: '10.0.0.2', ts: 10500, check_status: 'L7OK', duration_ms: 0 }]],
    threshold_seconds: 600
  })
  res = await app.inject('/recent?threshold=1000')
  assert.deepEqual(res.json().seen_services.map((e: [string]) => e[0]), ['new', 'old'])
  assert.equal(res.json().threshold_seconds, 1000)
})

test('/recent with a non-numeric threshold is a 400', async (t) => {
  const { app } = await buildTestApp(t)
  for (const bad of ['abc', '', '-5', 'NaN', 'Infinity']) {
    const res = await app.inject(`/recent?threshold=${bad}`)
    assert.equal(res.statusCode, 400, bad)
    assert.match(res.body, /threshold must be a number of seconds/)
  }
})
