import assert from 'node:assert/strict'
import { test } from 'node:test'
import { VERSION } from '../../src/version.js'
import { buildTestApp, freePort } from '../helper.js'
import { httpUpstream, httpsUpstream } from '../upstreams.js'

test('http: 200 with body passes through', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/http/web/${up.port}/health`)
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, 'ok')
  assert.equal(res.headers['content-type'], 'text/html; charset=UTF-8')
})

test('http: upstream 404, 501, 503 pass through with their bodies', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  for (const [path, code, body] of [['404', 404, 'no such thing'], ['501', 501, 'not implemented'], ['503', 503, 'overloaded']] as const) {
    const res = await app.inject(`/http/web/${up.port}/${path}`)
    assert.equal(res.statusCode, code, path)
    assert.equal(res.body, body)
  }
})

test('http: a status that is not a standard HTTP status answers 503', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/http/web/${up.port}/599`)
  assert.equal(res.statusCode, 503)
  assert.equal(res.body, 'odd status')
})

test('http: a 301 passes through without Location and is not followed', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/http/web/${up.port}/301`)
  assert.equal(res.statusCode, 301)
  assert.equal(res.headers.location, undefined)
  assert.equal(res.body, 'moved')
  assert.equal(up.requests(), 1)
})

test('http: a 204 answers 204 with no body', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/http/web/${up.port}/204`)
  assert.equal(res.statusCode, 204)
  assert.equal(res.body, '')
})

test('http: the query string is passed on; the path is required to end the URL with /', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/http/web/${up.port}/echo?a=1&b=two%20words`)
  assert.equal(res.body, 'a=1&b=two%20words')
  assert.equal((await app.inject(`/http/web/${up.port}`)).statusCode, 404, 'http needs the / after the port')
  assert.equal((await app.inject(`/http/web/${up.port}/`)).statusCode, 404, 'the empty query asks for / upstream')
  assert.equal(up.hits.get('/'), 1)
})

test('http: User-Agent, the copied Host header and service_name_header are sent', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t, { service_name_header: 'X-Service-Name', http_headers_to_copy: ['Host', 'X-Trace', 'Connection'] })
  const res = await app.inject({ url: `/http/web/${up.port}/headers`, headers: { host: 'web.example:3333', 'x-trace': 'abc', connection: 'keep-alive' } })
  const seen = JSON.parse(res.body)
  assert.equal(seen['user-agent'], `hastate ${VERSION}`)
  assert.equal(seen.host, 'web.example:3333')
  assert.equal(seen['x-trace'], 'abc')
  assert.equal(seen['x-service-name'], 'web')
  assert.equal(seen.connection, 'close', 'hop-by-hop headers are never copied; probes ask for Connection: close')
})

test('http: no connection reuse between probes', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t, { cache_time: 0 })
  for (let i = 0; i < 3; i++) assert.equal((await app.inject(`/http/web/${up.port}/health`)).statusCode, 200)
  assert.equal(up.requests(), 3)
  assert.equal(up.connections(), 3)
})

test('http: at most 64 KiB of body is passed through', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/http/web/${up.port}/big`)
  assert.equal(res.statusCode, 200)
  assert.equal(res.body.length, 64 * 1024)
})

test('http: a closed port answers 503 naming the error', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/http/web/${await freePort()}/health`)
  assert.equal(res.statusCode, 503)
  assert.equal(res.body, 'Unhandled exception [Errno 111] Connection refused')
})

test('http: an upstream slower than healthcheck_timeout answers 503 within the timeout', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t, { healthcheck_timeout: 0.3 })
  const started = Date.now()
  const res = await app.inject(`/http/web/${up.port}/slow`)
  const took = Date.now() - started
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^Timed out waiting for the response after [0-9]+\.[0-9]{2}s$/, 'cut by its own timeout (the upstream answers after 2 s)')
  t.diagnostic(`timeout 0.3 s: answered after ${took} ms`)
})

test('https: a self-signed certificate is accepted and SNI comes from the copied Host header', async (t) => {
  const up = await httpsUpstream(t)
  const { app } = await buildTestApp(t)
  let res = await app.inject({ url: `/https/web/${up.port}/health`, headers: { host: 'web.internal:3333' } })
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, 'ok')
  assert.deepEqual(up.servernames, ['web.internal'])
  res = await app.inject(`/https/web/${up.port}/404`)
  assert.equal(res.statusCode, 404)
})

test('https against a plain HTTP port fails with a TLS error, 503', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/https/web/${up.port}/health`)
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^Unhandled exception /)
})
