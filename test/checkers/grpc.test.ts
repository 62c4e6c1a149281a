import assert from 'node:assert/strict'
import { test } from 'node:test'
import { grpc } from '../../src/checkers/grpc.js'
import { decodeHealthCheckResponse, encodeHealthCheckRequest } from '../../src/checkers/grpc-health.js'
import { grpcs } from '../../src/checkers/grpcs.js'
import { grpcUpstream } from '../grpc-upstream.js'
import { buildTestApp, runChecker, waitFor } from '../helper.js'
import { httpUpstream, tcpUpstream } from '../upstreams.js'

test('grpc: SERVING answers 200 status SERVING (L7OK); the query names the service', async (t) => {
  const server = await grpcUpstream(t)
  server.statuses.set('my.pkg.Orders', 'SERVING')
  const { app } = await buildTestApp(t, { cache_time: 0 })
  let res = await app.inject(`/grpc/api/${server.port}/`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [200, 'status SERVING', 'L7OK'])
  res = await app.inject(`/grpc/api/${server.port}`)
  assert.equal(res.statusCode, 200, 'no trailing slash is fine')
  res = await app.inject(`/grpc/api/${server.port}/my.pkg.Orders`)
  assert.deepEqual([res.statusCode, res.body], [200, 'status SERVING for my.pkg.Orders'])
})

test('grpc: NOT_SERVING, UNKNOWN and an unknown service fail with the status in the message (L7STS)', async (t) => {
  const server = await grpcUpstream(t)
  server.statuses.set('down', 'NOT_SERVING')
  server.statuses.set('unsure', 'UNKNOWN')
  const { app } = await buildTestApp(t, { cache_time: 0 })
  const check = async (path: string): Promise<[number, string, unknown]> => {
    const res = await app.inject(`/grpc/api/${server.port}/${path}`)
    return [res.statusCode, res.body, res.headers['x-hacheck-status']]
  }
  assert.deepEqual(await check('down'), [503, 'status NOT_SERVING for down', 'L7STS'])
  assert.deepEqual(await check('unsure'), [503, 'status UNKNOWN for unsure', 'L7STS'])
  assert.deepEqual(await check('nosuch'), [503, 'service "nosuch" unknown (gRPC NOT_FOUND: unknown service)', 'L7STS'])
  // The switch flips the answer.
  server.statuses.set('', 'NOT_SERVING')
  assert.deepEqual(await check(''), [503, 'status NOT_SERVING', 'L7STS'])
  server.statuses.set('', 'SERVING')
  assert.deepEqual(await check(''), [200, 'status SERVING', 'L7OK'])
})

test('grpc: a gRPC server without the health service is UNIMPLEMENTED (L7STS)', async (t) => {
  const server = await grpcUpstream(t, { health: false })
  const outcome = await runChecker(grpc, server.port)
  assert.deepEqual([outcome.code, outcome.checkStatus], [503, 'L7STS'])
  assert.match(outcome.message, /^gRPC UNIMPLEMENTED: /)
})

test('grpcs: the health check over TLS (self-signed, not verified) passes; plaintext and TLS mixed up fail by layer', async (t) => {
  const tls = await grpcUpstream(t, { tls: true })
  const plain = await grpcUpstream(t)
  const { app } = await buildTestApp(t, { cache_time: 0 })
  let res = await app.inject(`/grpcs/api/${tls.port}/`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [200, 'status SERVING', 'L7OK'])
  res = await app.inject(`/grpcs/api/${plain.port}/`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [503, 'TLS handshake failed: wrong version number', 'L6RSP'])
  res = await app.inject(`/grpc/api/${tls.port}/`)
  assert.deepEqual([res.statusCode, res.headers['x-hacheck-status']], [503, 'L7RSP'], 'HTTP/2 in clear to a TLS port is not gRPC')
})

test('grpcs: a server that never finishes the TLS handshake is L6TOUT', async (t) => {
  const silent = await tcpUpstream(t)
  const outcome = await runChecker(grpcs, silent.port, { healthcheck_timeout: 0.3 })
  assert.deepEqual([outcome.code, outcome.checkStatus], [503, 'L6TOUT'])
  assert.match(outcome.message, /^TLS handshake timed out after [0-9]+\.[0-9]{2}s$/)
})

test('grpc: one fresh connection per probe, closed after it; concurrent checks share one probe', async (t) => {
  const server = await grpcUpstream(t)
  const { app } = await buildTestApp(t, { cache_time: 10 })
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await app.inject(`/grpc/api/${server.port}/`)))
  assert.ok(answers.every((r) => r.statusCode === 200))
  assert.deepEqual([server.connections(), server.calls()], [1, 1], 'eight concurrent checks, one probe')
  for (let i = 0; i < 3; i++) await app.inject({ url: `/grpc/api/${server.port}/`, headers: { pragma: 'no-cache' } })
  assert.deepEqual([server.connections(), server.calls()], [4, 4], 'each probe opens its own connection')
  await waitFor(async () => server.open() === 0 ? true : undefined, 3000, 'probe connections to close')
})

test('grpc: connects to the address the check guard approved, never resolving the host again', async (t) => {
  const server = await grpcUpstream(t)
  const outcome = await runChecker(grpc, server.port, {}, { host: 'api.invalid', address: '127.0.0.1' })
  assert.deepEqual([outcome.code, outcome.message], [200, 'status SERVING'])
})

test('grpc: a query that is not a service name, or any query string, is a 404 at the route', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  let res = await app.inject(`/grpc/api/${up.port}/not%20a%20name`)
  assert.deepEqual([res.statusCode, res.body], [404, 'Not Found: not a gRPC service name: "not%20a%20name"'])
  res = await app.inject(`/grpcs/api/${up.port}/svc?x=1`)
  assert.deepEqual([res.statusCode, res.body], [404, 'Not Found: gRPC health checks take no query string'])
  assert.equal(up.connections(), 0, 'nothing was contacted')
})

test('grpc health messages: encoding, unknown fields skipped, malformed input refused', () => {
  assert.deepEqual(encodeHealthCheckRequest(''), Buffer.alloc(0))
  assert.deepEqual(encodeHealthCheckRequest('a.B'), Buffer.from([0x0a, 3, 0x61, 0x2e, 0x42]))
  assert.equal(encodeHealthCheckRequest('x'.repeat(200)).subarray(0, 3).toString('hex'), '0ac801', 'a two-byte length')
  assert.equal(decodeHealthCheckResponse(Buffer.alloc(0)), 0, 'absent: UNKNOWN, the proto3 default')
  assert.equal(decodeHealthCheckResponse(Buffer.from([0x08, 0x01])), 1)
  // An unknown string field 2, an unknown fixed32 field 3, then status 2.
  assert.equal(decodeHealthCheckResponse(Buffer.from([0x12, 0x02, 0x68, 0x69, 0x1d, 1, 2, 3, 4, 0x08, 0x02])), 2)
  assert.throws(() => decodeHealthCheckResponse(Buffer.from([0x08])), { code: 'HC_ERR_GRPC_RESPONSE', message: 'malformed HealthCheckResponse: truncated varint' })
  assert.throws(() => decodeHealthCheckResponse(Buffer.from([0x12, 0x09, 0x68])), /truncated field/)
  assert.throws(() => decodeHealthCheckResponse(Buffer.from([0x0f])), /wire type 7/)
  assert.throws(() => decodeHealthCheckResponse(Buffer.from([0x0a, 0x00])), /status is not a varint/)
})
