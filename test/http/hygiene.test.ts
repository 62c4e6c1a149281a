/**
 * Request hygiene against a real listener on 127.0.0.1: oversized headers, big bodies,
 * slowloris, thousands of idle connections and garbage leave the server answering checks.
 */
import assert from 'node:assert/strict'
import { connect, type Server, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { makeConfig } from '../../src/config/index.js'
import { startServer } from '../../src/http/server.js'
import { getFrom, HANG_MS, tempSpool, untilSettled, waitFor } from '../helper.js'
import { parsePrometheus, sampleValue } from '../prometheus.js'

// Bounds here are generous (HANG_MS): checks answered during a flood, connections the server
// must close. They fail when something hangs, not when the machine is busy; the figures that
// matter are printed.

async function listen (t: TestContext, overrides: Record<string, unknown> = {}): Promise<number> {
  return (await listening(t, overrides)).port
}

/** {@link listen}, with the listening socket, to ask it how many connections it holds. */
async function listening (t: TestContext, overrides: Record<string, unknown> = {}): Promise<{ port: number, server: Server }> {
  const server = await startServer({
    config: makeConfig({ request_header_timeout: 1, allow_remote_spool_changes: true, ...overrides }),
    spool: await tempSpool(t),
    ports: [0],
    bindAddress: '127.0.0.1'
  })
  t.after(async () => { await server.close() })
  return { port: server.addresses[0]?.port as number, server: server.apps[0]?.server as Server }
}

/** Connections `server` holds now. */
async function connectionsOf (server: Server): Promise<number> {
  return await new Promise((resolve, reject) => { server.getConnections((err, n) => { if (err === null) resolve(n); else reject(err) }) })
}

/** Writes `data` on a raw connection and collects what comes back until the server closes or `ms` pass. */
async function raw (port: number, data: string | Buffer, ms = HANG_MS): Promise<{ text: string, closed: boolean }> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    const done = (closed: boolean): void => { clearTimeout(timer); socket.destroy(); resolve({ text, closed }) }
    const timer = setTimeout(() => { done(false) }, ms)
    socket.on('data', (d) => { text += d.toString('latin1') })
    socket.on('error', () => {}) // EPIPE/ECONNRESET when the server stops reading early
    socket.on('close', () => { done(true) })
    socket.write(data)
  })
}

async function checkAnswers (port: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/spool/web/0/`, { signal: AbortSignal.timeout(HANG_MS) })
  assert.equal(res.status, 200)
}

test('an oversized header section is a 431 and the server keeps answering', async (t) => {
  const port = await listen(t)
  const { text } = await raw(port, `GET /spool/web/0/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`)
  assert.match(text, /^HTTP\/1\.1 431 /)
  await checkAnswers(port)
})

test('a 1 MB POST body is refused (413) without being read, declared or chunked', async (t) => {
  const port = await listen(t)
  const body = Buffer.alloc(1024 * 1024, 'a')
  const head = 'POST /spool/web/0/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n'
  let res = await raw(port, Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length}\r\n\r\n`), body]))
  assert.match(res.text, /^HTTP\/1\.1 413 /)
  const chunked = Buffer.concat([Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])
  res = await raw(port, chunked)
  assert.match(res.text, /^HTTP\/1\.1 413 /)
  await checkAnswers(port)
})

test('garbage and malformed requests get a 4xx, never a crash', async (t) => {
  const port = await listen(t)
  for (const junk of ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /spool/web/0/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', '\x00\x01\x02\r\n\r\n',
    'GET /spool/%zz/0/ HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /spool/web/0/ HTTP/1.1\r\nHost: x\r\nX-Nerve-Check-IP: \x7f\r\n\r\n']) {
    const { text } = await raw(port, junk)
    assert.match(text, /^HTTP\/1\.1 4\d\d /, JSON.stringify(junk))
  }
  await checkAnswers(port)
})

test('a slowloris connection is cut after request_header_timeout while checks go on', async (t) => {
  const port = await listen(t)
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write('GET /spool/web/0/ HTTP/1.1\r\nHost: x\r\n')
  const drip = setInterval(() => { if (!socket.destroyed) socket.write('X-Drip: 1\r\n') }, 100)
  t.after(() => { clearInterval(drip); socket.destroy() })
  const { ms } = await untilSettled(async () => {
    const closed = new Promise((resolve) => socket.on('close', resolve))
    await checkAnswers(port)
    await closed
  }, 'the slowloris connection to be cut')
  t.diagnostic(`request_header_timeout 1 s: cut after ${ms.toFixed(0)} ms`)
  assert.ok(ms >= 900, `cut after ${ms.toFixed(0)} ms, before its request_header_timeout`)
  await checkAnswers(port)
})

test('2,000 idle connections from one address: its share is capped, other clients are answered, the idle ones are reaped', async (t) => {
  // Registered before the server's own close hook (after hooks run in order): a failed
  // assertion must not leave the close waiting for these sockets.
  const sockets: Socket[] = []
  t.after(() => { for (const s of sockets) s.destroy() })
  const port = await listen(t)
  await Promise.all(Array.from({ length: 2000 }, async () => await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => { resolve() })
    socket.on('error', reject)
    socket.resume() // read, so the server's 408 and close are seen
    sockets.push(socket)
  })))
  const started = performance.now()
  const other = await getFrom('127.0.0.2', `http://127.0.0.1:${port}/spool/web/0/`, { timeoutMs: HANG_MS })
  assert.equal(other.status, 200)
  t.diagnostic(`another client answered in ${(performance.now() - started).toFixed(0)} ms beside 2,000 idle connections`)
  const closed = await Promise.all(sockets.map(async (s) => await new Promise<boolean>((resolve) => {
    if (s.destroyed) { resolve(true); return }
    const timer = setTimeout(() => { resolve(false) }, HANG_MS)
    s.on('close', () => { clearTimeout(timer); resolve(true) })
  })))
  assert.ok(closed.every(Boolean), 'idle connections that never sent a request are closed after request_header_timeout (those past max_connections_per_client at once)')
  await checkAnswers(port)
})

test('max_connections caps concurrent connections; the overflow is dropped and counted', async (t) => {
  const sockets: Socket[] = []
  t.after(() => { for (const s of sockets) s.destroy() }) // before the server's close hook
  const { port, server } = await listening(t, { max_connections: 5, request_header_timeout: 30 })
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve) => { const s = connect(port, '127.0.0.1', resolve); s.on('error', () => {}); sockets.push(s) })
  }
  await waitFor(async () => await connectionsOf(server) === 5 ? true : undefined, HANG_MS, 'the server to hold five')
  const overflow = await raw(port, 'GET /spool/web/0/ HTTP/1.1\r\nHost: x\r\n\r\n')
  assert.deepEqual(overflow, { text: '', closed: true })
  for (const s of sockets.splice(0)) s.destroy()
  await waitFor(async () => await connectionsOf(server) === 0 ? true : undefined, HANG_MS, 'the server to see the five closes')
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  assert.equal(sampleValue(parsePrometheus(await res.text()), 'hacheck_connections_dropped_total'), 1)
})
