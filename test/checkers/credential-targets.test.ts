/**
 * Credentials go only to declared targets (docs/roles.md "Where credentials go"): fake database
 * servers on loopback record every byte they receive, and a check pointed at an undeclared port
 * (in the URL) or an undeclared address (in `X-Haproxy-Server-State`) is refused with 403 before
 * connecting: no connection, so no credential. A declared fake shows the recorder works. And a
 * declared PostgreSQL server gets no md5 answer (without `postgres_allow_md5`) and no SCRAM
 * proof for a low iteration count: nothing it could crack offline.
 */
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { buildTestApp } from '../helper.js'

const SECRET = `s3cret-${Math.random().toString(36).slice(2)}`

/** A recording server on `host`: every connection's bytes, and an answer per chunk. */
async function recorder (t: TestContext, host: string, answer: (socket: Socket, data: Buffer, all: Buffer) => void = () => {}): Promise<{ port: number, connections: () => number, received: () => string, raw: () => Buffer[] }> {
  const chunks: Buffer[] = []
  let connections = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    connections++
    sockets.add(socket)
    let all = Buffer.alloc(0)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.on('data', (data) => { chunks.push(data); all = Buffer.concat([all, data]); answer(socket, data, all) })
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  t.after(async () => { for (const s of sockets) s.destroy(); await new Promise((resolve) => server.close(resolve)) })
  const port = (server.address() as { port: number }).port
  return { port, connections: () => connections, received: () => Buffer.concat(chunks).toString('latin1'), raw: () => chunks }
}

const redisLike = (socket: Socket, data: Buffer): void => {
  const commands = data.toString('latin1').split('\r\n').filter((l) => l.startsWith('*')).length
  for (let i = 0; i < commands; i++) socket.write('+PONG\r\n')
}

test('redis: AUTH goes only to declared ports and hosts; others are a 403 before any connect', async (t) => {
  const stranger = await recorder(t, '127.0.0.1', redisLike)
  const elsewhere = await recorder(t, '127.0.0.2', redisLike)
  const declared = await recorder(t, '127.0.0.1', redisLike)
  const { app } = await buildTestApp(t, { cache_time: 0, redis_password: SECRET, redis_credential_ports: [6379, declared.port, elsewhere.port] })
  let res = await app.inject(`/redis/x/${stranger.port}/`)
  assert.equal(res.statusCode, 403)
  assert.equal(res.body, `redis credentials go only to redis_credential_hosts on redis_credential_ports; 127.0.0.1:${stranger.port} is not declared (refused before connecting)`)
  res = await app.inject({ url: `/redis/x/${declared.port}/`, headers: { 'x-haproxy-server-state': `UP 2/3; address=127.0.0.2; port=${elsewhere.port}` } })
  assert.equal(res.statusCode, 403, 'a declared port on an undeclared host')
  res = await app.inject({ url: '/redis/x/6379/', headers: { 'x-nerve-check-ip': '127.0.0.2' } })
  assert.equal(res.statusCode, 403)
  assert.deepEqual([stranger.connections(), elsewhere.connections()], [0, 0], 'no connection, so no credential')

  res = await app.inject(`/redis/x/${declared.port}/`)
  assert.deepEqual([res.statusCode, res.body], [200, 'PONG'])
  assert.ok(declared.received().includes(SECRET), 'the control: a declared target gets AUTH')
  // Without a password nothing secret is sent: any port is checked.
  const { app: open } = await buildTestApp(t, { cache_time: 0 })
  assert.equal((await open.inject(`/redis/x/${stranger.port}/`)).statusCode, 200)
  assert.ok(!stranger.received().includes(SECRET))
})

test('mysql and postgres: an undeclared port is refused before connecting', async (t) => {
  const mysqlFake = await recorder(t, '127.0.0.1')
  const pgFake = await recorder(t, '127.0.0.1')
  const { app } = await buildTestApp(t, { cache_time: 0, mysql_username: 'hacheck', mysql_password: SECRET, postgres_username: 'hacheck', postgres_password: SECRET })
  for (const url of [`/mysql/x/${mysqlFake.port}/`, `/postgres/x/${pgFake.port}/`, `/mysql/x/${pgFake.port}/primary`]) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 403, url)
    assert.match(res.body, /^(mysql|postgres) credentials go only to /)
  }
  const headerRes = await app.inject({ url: '/mysql/x/3306/', headers: { 'x-haproxy-server-state': `UP; address=127.0.0.1; port=${mysqlFake.port}` } })
  assert.equal(headerRes.statusCode, 403, 'the port in X-Haproxy-Server-State')
  assert.deepEqual([mysqlFake.connections(), pgFake.connections()], [0, 0])
})

/** PostgreSQL messages: a type byte, a length (itself included), the body. */
function pgMessage (type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}
const int32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b }

test('postgres: no md5 answer and no low-iteration SCRAM proof reaches a declared server', async (t) => {
  // Asks for md5 right after the startup message; records whether a password message follows.
  const md5 = await recorder(t, '127.0.0.1', (socket, data) => {
    if (data.length >= 8 && data.readInt32BE(4) === 196608) socket.write(pgMessage('R', Buffer.concat([int32(5), Buffer.from([1, 2, 3, 4])])))
  })
  // Asks for SCRAM-SHA-256, then answers the client-first message with i=1.
  const scram = await recorder(t, '127.0.0.1', (socket, data) => {
    if (data.length >= 8 && data.readInt32BE(4) === 196608) {
      socket.write(pgMessage('R', Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0', 'latin1')])))
      return
    }
    const nonce = /r=([^,\0]+)/.exec(data.toString('latin1'))?.[1]
    if (data[0] === 0x70 && nonce !== undefined) {
      const first = `r=${nonce}server,s=${Buffer.from('salt').toString('base64')},i=1`
      socket.write(pgMessage('R', Buffer.concat([int32(11), Buffer.from(first, 'latin1')])))
    }
  })
  const { app } = await buildTestApp(t, {
    cache_time: 0, healthcheck_timeout: 2, postgres_username: 'hacheck', postgres_password: SECRET, postgres_credential_ports: [md5.port, scram.port]
  })
  let res = await app.inject(`/postgres/x/${md5.port}/`)
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^PostgreSQL server asked for an md5 password: refused/)
  assert.ok(md5.raw().every((chunk) => chunk[0] !== 0x70), 'no PasswordMessage was sent')
  res = await app.inject(`/postgres/x/${scram.port}/`)
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^PostgreSQL server asked for SCRAM with 1 iterations: refused/)
  assert.doesNotMatch(scram.received(), /p=/, 'no client proof was sent')
  assert.match(scram.received(), /SCRAM-SHA-256/, 'the control: the exchange reached the client-first message')
})
