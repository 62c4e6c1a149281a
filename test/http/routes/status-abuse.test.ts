/**
 * Monitoring routes against client diversity (issue 10, items 6 and 12): `/status/count` is
 * bounded in (service, client) pairs and says what it leaves out, a service named `__proto__`
 * is counted like any other, and `/recent` takes plain decimal seconds only.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ServiceLog } from '../../../src/checks/service-log.js'
import { buildTestApp } from '../../helper.js'

test('service log: at most maxCounts (service, client) pairs; the rest are added up, evictions free room', () => {
  const log = new ServiceLog({ maxCounts: 4, maxServices: 3 })
  for (const client of ['a', 'b', 'c']) log.record('web', 200, client)
  log.record('api', 200, 'a')
  log.record('api', 200, 'b') // the fifth pair: not counted
  log.record('api', 200, 'b')
  log.record('web', 200, 'a') // a known pair is still counted
  assert.deepEqual(log.accessCounts(), { counts: { web: { a: 2, b: 1, c: 1 }, api: { a: 1 } }, uncounted: 2, maxCounts: 4 })
  log.record('db', 200, 'x') // full: uncounted
  log.record('new', 200, 'x') // evicts api (least recently answered): its pair is freed, so x is counted
  log.record('new', 200, 'y') // full again
  assert.deepEqual(log.accessCounts(), { counts: { web: { a: 2, b: 1, c: 1 }, db: {}, new: { x: 1 } }, uncounted: 4, maxCounts: 4 })
})

test('/status/count: 1,024 client addresses x 40 services stay bounded and say so; the answer is small', async (t) => {
  const { app } = await buildTestApp(t)
  for (let c = 0; c < 1024; c++) {
    const remoteAddress = `10.${c >> 8}.${c & 255}.1`
    for (let s = 0; s < 40; s++) await app.inject({ url: `/spool/svc${s}/0/`, remoteAddress })
  }
  const res = await app.inject('/status/count')
  const body = res.json() as { service_access_counts: Record<string, Record<string, number>>, uncounted_requests: number, max_counted_pairs: number }
  const pairs = Object.values(body.service_access_counts).reduce((n, clients) => n + Object.keys(clients).length, 0)
  t.diagnostic(`40,960 (service, client) pairs asked: ${pairs} counted, ${body.uncounted_requests} requests uncounted, ${res.body.length} bytes`)
  assert.equal(pairs, body.max_counted_pairs)
  assert.equal(body.max_counted_pairs, 4096)
  assert.equal(body.uncounted_requests, 40960 - 4096)
  assert.ok(res.body.length < 500 * 1024, `${res.body.length} bytes`)
})

test('a service named __proto__ is counted like any other', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject('/spool/__proto__/0/')
  await app.inject('/spool/constructor/0/')
  const counts = (await app.inject('/status/count')).json().service_access_counts
  assert.deepEqual(Object.keys(counts).sort(), ['__proto__', 'constructor'])
  assert.deepEqual(Object.getOwnPropertyDescriptor(counts, '__proto__')?.value, { '127.0.0.1': 1 })
  assert.deepEqual((await app.inject('/recent')).json().seen_services.map((e: [string]) => e[0]), ['__proto__', 'constructor'])
})

test('/recent takes plain decimal seconds only: no hex, exponent, sign or blank', async (t) => {
  const { app } = await buildTestApp(t)
  for (const bad of ['0x10', '1e3', '+5', '%205', '5%20', '0b1', '.5']) {
    const res = await app.inject(`/recent?threshold=${bad}`)
    assert.equal(res.statusCode, 400, bad)
    assert.match(res.body, /^threshold must be a number of seconds, got "/)
  }
  for (const [good, seconds] of [['16', 16], ['0', 0], ['1.9', 1], ['600.', 600]] as const) {
    assert.equal((await app.inject(`/recent?threshold=${good}`)).json().threshold_seconds, seconds, good)
  }
})
