/**
 * The GET-only monitoring routes (`/status`, `/status/count`, `/recent`, `/metrics`, the status
 * page's) answer any other method 405 with `Allow: GET, HEAD`, as the check routes do, before
 * reading any body. The reference (Tornado 6) answers 405 too, without the `Allow` header.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { buildTestApp } from '../../helper.js'

const ROUTES = ['/status', '/status/count', '/recent', '/recent?threshold=5', '/metrics', '/', '/page/app.js', '/page/data', '/page/events']

test('POST, PUT, DELETE, PATCH and OPTIONS on a GET-only route: 405, Allow: GET, HEAD; GET still answers', async (t) => {
  const { app } = await buildTestApp(t)
  for (const url of ROUTES) {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
      const res = await app.inject({ method, url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'status=down&reason=x' })
      assert.deepEqual([res.statusCode, res.headers.allow, res.body], [405, 'GET, HEAD', 'Method Not Allowed'], `${method} ${url}`)
    }
    if (url === '/page/events') continue // a stream: its GET never ends
    assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, `GET ${url}`)
  }
})

test('over a real socket: POST /status with a JSON body of any size is a 405, and the connection stays usable', async (t) => {
  const { app } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (const body of ['{"a":1}', 'x'.repeat(256 * 1024)]) {
    const res = await fetch(`http://127.0.0.1:${port}/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    assert.deepEqual([res.status, res.headers.get('allow'), await res.text()], [405, 'GET, HEAD', 'Method Not Allowed'])
  }
  assert.equal((await fetch(`http://127.0.0.1:${port}/status`)).status, 200)
})
