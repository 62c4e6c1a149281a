import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LatencyHistory } from '../../src/checks/latency-history.js'
import { buildTestApp } from '../helper.js'
import { httpUpstream } from '../upstreams.js'

test('latency history: the slowest probe per bucket, failures marked, gaps null, oldest first', () => {
  let now = 1000
  const h = new LatencyHistory({ bucketSeconds: 10, buckets: 6, nowSeconds: () => now })
  h.record('web', 12.34, true)
  h.record('web', 5, true) // same bucket, faster: the slowest stays
  now = 1020
  h.record('web', 40, false)
  h.record('web', 3, true)
  now = 1035
  const s = h.get('web')
  assert.deepEqual(s, { bucket_seconds: 10, end: 1040, points: [null, null, 12.3, null, 40, null], failed: [4] })
  assert.equal(h.get('api'), undefined)
})

test('latency history: buckets older than the window drop out, and a reused slot starts empty', () => {
  let now = 0
  const h = new LatencyHistory({ bucketSeconds: 1, buckets: 3, nowSeconds: () => now })
  h.record('web', 100, false)
  now = 3 // the same slot (3 % 3 === 0), three buckets later
  assert.deepEqual(h.get('web')?.points, [null, null, null])
  h.record('web', 7, true)
  assert.deepEqual(h.get('web'), { bucket_seconds: 1, end: 4, points: [null, null, 7], failed: [] })
  now = 100
  assert.deepEqual(h.get('web')?.points, [null, null, null])
})

test('latency history: bounded in services (hostile names), least recently probed forgotten', () => {
  const h = new LatencyHistory({ maxServices: 3 })
  for (const name of ['a', 'b', 'c']) h.record(name, 1, true)
  h.record('a', 2, true) // a is now the most recent
  for (let i = 0; i < 1000; i++) h.record(`junk${i}`, 1, true)
  assert.equal(h.size, 3)
  assert.equal(h.get('a'), undefined)
  assert.ok(h.get('junk999') !== undefined)
  // A negative or non-finite duration is a 0 ms sample, never NaN in the page's data.
  h.record('x', Number.NaN, true)
  assert.equal(h.get('x')?.points.at(-1), 0)
})

test('latency history: fed by probes that ran, per service, not by cached answers', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t, { cache_time: 60 })
  for (let i = 0; i < 3; i++) assert.equal((await app.inject(`/http/web/${up.port}/health`)).statusCode, 200)
  await app.inject('/spool/api/0/')
  const data = JSON.parse((await app.inject('/page/data')).body) as { services: Array<{ name: string, latency: { points: Array<number | null> } | null }> }
  const web = data.services.find((s) => s.name === 'web')
  assert.equal(web?.latency?.points.filter((p) => p !== null).length, 1)
  assert.equal(up.requests(), 1)
  assert.equal(data.services.find((s) => s.name === 'api')?.latency, null, 'a spool answer is no probe')
})
