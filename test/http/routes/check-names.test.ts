/**
 * Check URLs whose spool files cannot exist, and URLs the router cannot decode (issue 10, items
 * 9 and 12): a clear 4xx, the plain `Not Found` every other bad URL gets, never a false 503.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../../helper.js'

test('a service name too long for its spool files is a 404, not a false down', async (t) => {
  const { app } = await buildTestApp(t)
  for (const length of [250, 255]) {
    const res = await app.inject(`/spool/${'a'.repeat(length)}/80/`)
    assert.deepEqual([res.statusCode, res.headers['content-type'], res.body], [404, 'text/html; charset=UTF-8', 'Not Found'], String(length))
  }
  const fits = await app.inject(`/spool/${'a'.repeat(249)}/65535/`)
  assert.equal(fits.statusCode, 200)
})

test('over-long segments and bad percent-escapes answer the plain Not Found', async (t) => {
  const { app } = await buildTestApp(t)
  for (const url of [`/spool/${'a'.repeat(300)}/0/`, '/spool/web/0/%zz', '/http/web/80/%E0%A4%A', `/recent/${'x'.repeat(300)}`]) {
    const res = await app.inject(url)
    assert.deepEqual([res.statusCode, res.headers['content-type'], res.body], [404, 'text/html; charset=UTF-8', 'Not Found'], url.slice(0, 40))
  }
})

test('a target host that makes <service>:<host>:<port> too long is a 400 naming the problem', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: `/spool/${'s'.repeat(200)}/8080/`, headers: { 'x-nerve-check-ip': `${'h'.repeat(60)}.example` } })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /the spool file name <service>:<host>:<port> would be 274 bytes, more than 255$/)
})
