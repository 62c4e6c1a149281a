/** `/metrics` access control (issue 10, item 13): `metrics_allowed_cidrs`, default any client. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../../helper.js'

test('metrics_allowed_cidrs restricts /metrics to its networks; checks are not affected', async (t) => {
  const { app } = await buildTestApp(t, { metrics_allowed_cidrs: ['10.0.0.0/8', '::1'] })
  for (const remoteAddress of ['10.1.2.3', '::1', '::ffff:10.9.9.9']) {
    const res = await app.inject({ url: '/metrics', remoteAddress })
    assert.equal(res.statusCode, 200, remoteAddress)
    assert.match(res.body, /hacheck_build_info/)
  }
  for (const remoteAddress of ['127.0.0.1', '192.168.1.1', 'fd00::1']) {
    const res = await app.inject({ url: '/metrics', remoteAddress })
    assert.deepEqual([res.statusCode, res.body], [403, `client ${remoteAddress} may not read the metrics`], remoteAddress)
  }
  assert.equal((await app.inject({ url: '/spool/web/0/', remoteAddress: '192.168.1.1' })).statusCode, 200)
})

test('by default any client may read /metrics, as before', async (t) => {
  const { app } = await buildTestApp(t)
  assert.equal((await app.inject({ url: '/metrics', remoteAddress: '203.0.113.9' })).statusCode, 200)
})
