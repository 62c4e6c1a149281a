import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, freePort } from '../../helper.js'
import { httpUpstream } from '../../upstreams.js'

test('drain answers 404 "in drain state" (for http-check disable-on-404) with status L7OKC', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web' }, { reason: 'deploy', state: 'drain', creation: 1700000000 })
  const res = await app.inject('/spool/web/0/')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, 'Service web in drain state since 1700000000.000000: deploy')
  assert.equal(res.headers['content-type'], 'text/html; charset=UTF-8')
  assert.equal(res.headers['x-hacheck-status'], 'L7OKC')
})

test('maint answers 503 "in maint state"; a plain down file answers exactly as before', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web' }, { reason: 'kernel', state: 'maint', creation: 1700000000, expiration: 4102444800 })
  let res = await app.inject('/spool/web/0/')
  assert.equal(res.statusCode, 503)
  assert.equal(res.body, 'Service web in maint state since 1700000000.000000 until 4102444800.000000: kernel')
  assert.equal(res.headers['x-hacheck-status'], 'L7STS')
  await spool.down({ service: 'web' }, { reason: 'kernel', creation: 1700000000 })
  res = await app.inject('/spool/web/0/')
  assert.equal(res.statusCode, 503)
  assert.equal(res.body, 'Service web in down state since 1700000000.000000: kernel')
})

test('drain still probes: a passing upstream gives 404, a failing one its own failure', async (t) => {
  const up = await httpUpstream(t)
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web' }, { reason: 'deploy', state: 'drain' })
  let res = await app.inject(`/http/web/${up.port}/health`)
  assert.equal(res.statusCode, 404)
  assert.match(res.body, /^Service web in drain state since [0-9.]+: deploy$/)
  assert.equal(res.headers['x-hacheck-status'], 'L7OKC')
  assert.equal(up.hits.get('/health'), 1)
  res = await app.inject(`/http/web/${up.port}/503`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [503, 'overloaded', 'L7STS'])
  res = await app.inject(`/tcp/web/${await freePort()}/`)
  assert.deepEqual([res.statusCode, res.headers['x-hacheck-status']], [503, 'L4CON'], 'a draining host whose service is gone goes down')
})

test('maint does not probe', async (t) => {
  const up = await httpUpstream(t)
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web' }, { reason: 'x', state: 'maint' })
  assert.equal((await app.inject(`/http/web/${up.port}/health`)).statusCode, 503)
  assert.equal(up.requests(), 0)
})

test('X-Hacheck-Status and X-Hacheck-Duration-Ms on every check answer', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t, { cache_time: 0 })
  let res = await app.inject(`/http/web/${up.port}/slow200`)
  assert.equal(res.headers['x-hacheck-status'], 'L7OK')
  const ms = Number(res.headers['x-hacheck-duration-ms'])
  assert.ok(ms >= 190, `duration ${ms} ms: the probe's, which waits 200 ms for its answer`)
  res = await app.inject(`/tcp/web/${up.port}/`)
  assert.equal(res.headers['x-hacheck-status'], 'L4OK')
  res = await app.inject(`/http/web/${await freePort()}/health`)
  assert.equal(res.headers['x-hacheck-status'], 'L4CON')
  res = await app.inject({ method: 'HEAD', url: '/spool/web/0/' })
  assert.deepEqual([res.headers['x-hacheck-status'], res.headers['x-hacheck-duration-ms']], ['L7OK', '0'])
})

test('/recent entries keep code, remote_ip, ts first and add check_status and duration_ms', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t, {}, { nowSeconds: () => 5000 })
  await app.inject({ url: `/http/web/${up.port}/503`, remoteAddress: '10.0.0.7' })
  const [[service, entry]] = (await app.inject('/recent')).json().seen_services
  assert.equal(service, 'web')
  assert.deepEqual(Object.keys(entry), ['code', 'remote_ip', 'ts', 'check_status', 'duration_ms'])
  assert.deepEqual([entry.code, entry.remote_ip, entry.ts, entry.check_status], [503, '10.0.0.7', 5000, 'L7STS'])
  assert.equal(typeof entry.duration_ms, 'number')
})
