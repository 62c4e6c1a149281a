import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { buildTestApp } from '../../helper.js'

test('POST with a body to a check route other than /spool/ is a 405 whatever the body (never 415/413)', async (t) => {
  const { app } = await buildTestApp(t)
  for (const [url, type, payload] of [
    ['/http/web/8080/health', 'application/x-www-form-urlencoded', 'status=down&reason=x'],
    ['/tcp/web/80', 'application/x-www-form-urlencoded', 'a=b'],
    ['/mysql/db/3306/', 'application/json', '{"status":"down"}'],
    ['/smtp/mail/25/', 'text/plain', 'hello'],
    ['/http/web/8080/', 'application/octet-stream', 'x'.repeat(64 * 1024)]
  ] as const) {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload })
    assert.equal(res.statusCode, 405, `${url} ${type}`)
    assert.equal(res.headers.allow, 'GET, HEAD')
  }
  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    const res = await app.inject({ method, url: '/http/web/8080/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' })
    assert.equal(res.statusCode, 405, method)
  }
})

test('the 405 keeps the 404 for what is not a check route, and leaves POST /spool/ to remote changes', async (t) => {
  const { app } = await buildTestApp(t)
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  assert.equal((await app.inject({ method: 'POST', url: '/gopher/web/70/', headers: form, payload: 'a=b' })).statusCode, 404)
  assert.equal((await app.inject({ method: 'POST', url: '/http/we%20b/80/', headers: form, payload: 'a=b' })).statusCode, 404)
  const res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: form, payload: 'status=up' })
  assert.deepEqual([res.statusCode, res.body], [403, 'remote spool changes are not enabled'])
})

test('over a real socket, a POSTed form to a check route is answered 405 and the connection stays usable', async (t) => {
  const { app } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const res = await fetch(`http://127.0.0.1:${port}/http/web/8080/`, { method: 'POST', body: new URLSearchParams({ status: 'down' }) })
  assert.equal(res.status, 405)
  assert.equal(await res.text(), 'Method Not Allowed')
  assert.equal((await fetch(`http://127.0.0.1:${port}/spool/web/0/`)).status, 200)
})

test('Fastify inject still sends cookies with cookie pinned below 2 (Node 20 support)', async (t) => {
  const { app } = await buildTestApp(t)
  app.get('/echo-cookie', async (request) => request.headers.cookie ?? '')
  const res = await app.inject({ url: '/echo-cookie', cookies: { session: 'a b', id: '7' } })
  assert.equal(res.body, 'session=a%20b; id=7')
})
