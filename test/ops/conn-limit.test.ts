/**
 * One client cannot lock the others out (issue 10, item 5): per-client connection limits on the
 * HTTP port and the agent port; the agent closes connections that sent no line once answered,
 * and answers a line trickled past its read window with `down #bad request` (item 12).
 * Clients on other addresses are 127.0.0.2 and 127.0.0.3 (all of 127.0.0.0/8 is loopback).
 */
import assert from 'node:assert/strict'
import { connect, type Server, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startAgentServer } from '../../src/agent/server.js'
import { HealthService } from '../../src/checks/health.js'
import { makeConfig } from '../../src/config/index.js'
import { startServer } from '../../src/http/server.js'
import { clientAddress } from '../../src/ops/conn-limit.js'
import { askAgent } from '../agent/client.js'
import { getFrom, HANG_MS, tempSpool, untilSettled, waitFor } from '../helper.js'
import { parsePrometheus, sampleValue } from '../prometheus.js'

/**
 * Opens `n` connections from `from` that send nothing; destroyed after the test. The listener
 * accepts connections in the order they were made, so a later connection is counted after these.
 */
async function idle (t: TestContext, port: number, n: number, from = '127.0.0.1'): Promise<Socket[]> {
  const sockets: Socket[] = []
  t.after(() => { for (const s of sockets) s.destroy() })
  for (let i = 0; i < n; i++) {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from })
    socket.on('error', () => {})
    sockets.push(socket)
    await new Promise((resolve) => socket.once('connect', resolve))
  }
  return sockets
}

/** Resolves true when `socket` is closed by the other side within `ms` (an event awaited; a generous bound), false otherwise. */
async function closedWithin (socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { resolve(false) }, ms)
    socket.once('end', () => { clearTimeout(timer); resolve(true) })
    socket.once('close', () => { clearTimeout(timer); resolve(true) })
  })
}

/** True while the server has not closed `socket` (no FIN or reset seen). */
const open = (socket: Socket): boolean => !socket.destroyed && !socket.readableEnded

/** Connections a listening server holds now. */
async function connectionsOf (server: Server): Promise<number> {
  return await new Promise((resolve, reject) => { server.getConnections((err, n) => { if (err === null) resolve(n); else reject(err) }) })
}

test('client addresses: IPv4-mapped IPv6 counts as the IPv4 address', () => {
  assert.equal(clientAddress('::ffff:10.0.0.1'), '10.0.0.1')
  assert.equal(clientAddress('fd00::1'), 'fd00::1')
  assert.equal(clientAddress('10.0.0.1'), '10.0.0.1')
})

test('HTTP: one address holds at most max_connections_per_client; other addresses are served', async (t) => {
  const server = await startServer({
    config: makeConfig({ max_connections_per_client: 3, request_header_timeout: 30 }),
    spool: await tempSpool(t),
    ports: [0],
    bindAddress: '127.0.0.1'
  })
  t.after(async () => { await server.close() })
  const port = server.addresses[0]?.port as number
  const held = await idle(t, port, 3)
  const [extra] = await idle(t, port, 1)
  assert.ok(extra !== undefined && await closedWithin(extra, HANG_MS), 'the fourth from the same address is closed on arrival')
  assert.ok(held.every(open), 'the first three stay open (a close of theirs would have come before the fourth\'s)')
  const other = await getFrom('127.0.0.2', `http://127.0.0.1:${port}/spool/web/0/`, { timeoutMs: HANG_MS })
  assert.equal(other.status, 200)
  const m = parsePrometheus((await getFrom('127.0.0.3', `http://127.0.0.1:${port}/metrics`)).body)
  assert.equal(sampleValue(m, 'hacheck_client_connections_refused_total', { listener: 'http' }), 1)
  assert.ok(held.every(open), 'the first three are still open')
  for (const s of held) s.destroy()
  const listener = server.apps[0]?.server as Server
  await waitFor(async () => await connectionsOf(listener) === 0 ? true : undefined, HANG_MS, 'the server to see the three closes')
  const again = await getFrom('127.0.0.1', `http://127.0.0.1:${port}/spool/web/0/`, { timeoutMs: HANG_MS })
  assert.equal(again.status, 200, 'closed connections give the address its share back')
})

async function agentOn (t: TestContext, extra: { maxConnectionsPerClient?: number, requestWaitMs?: number } = {}): Promise<{ port: number, refused: string[] }> {
  const config = makeConfig({ agent_max_connections_per_client: extra.maxConnectionsPerClient ?? 256 })
  const spool = await tempSpool(t)
  const refused: string[] = []
  const agent = await startAgentServer({
    config, health: new HealthService({ config, spool }), spool, port: 0, host: '127.0.0.1', requestWaitMs: extra.requestWaitMs ?? 100, onRefused: (a) => { refused.push(a) }
  })
  t.after(async () => { await agent.close() })
  return { port: agent.address.port, refused }
}

test('agent: one address holds at most agent_max_connections_per_client; other addresses are answered', async (t) => {
  const { port, refused } = await agentOn(t, { maxConnectionsPerClient: 4, requestWaitMs: 60_000 })
  await idle(t, port, 4)
  assert.equal(await askAgent(port, 'web\n', { timeoutMs: HANG_MS }), '', 'the fifth from the same address: closed, no reply')
  assert.deepEqual(refused, ['127.0.0.1'])
  assert.equal(await askAgent(port, 'web\n', { from: '127.0.0.2', timeoutMs: HANG_MS }), 'ready up\n')
})

test('agent: a connection that sends no line is answered and closed soon after its window, even if the client never closes', async (t) => {
  const { port } = await agentOn(t)
  const [socket] = await idle(t, port, 1)
  assert.ok(socket !== undefined)
  let reply = ''
  socket.setEncoding('latin1').on('data', (d: string) => { reply += d })
  // The server answers the host's state when its window passes, then closes: without that the
  // socket would stay open for good.
  const { ms } = await untilSettled(async () => await new Promise((resolve) => socket.once('close', resolve)), 'the agent closing an idle connection')
  assert.equal(reply, 'ready up\n')
  t.diagnostic(`window 100 ms: closed ${ms.toFixed(0)} ms after connecting`)
})

test('agent: a line trickled past the read window is a bad request, not the part that arrived', async (t) => {
  const { port } = await agentOn(t, { requestWaitMs: 100 })
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let out = ''
    socket.setEncoding('latin1').on('data', (d: string) => { out += d })
    socket.on('error', reject)
    socket.on('close', () => { resolve(out) })
    socket.on('connect', () => {
      socket.write('we')
      setTimeout(() => { if (!socket.destroyed) socket.write('b\n') }, 300)
    })
  })
  assert.equal(reply, 'down #bad request\n')
  assert.equal(await askAgent(port, 'web', { end: true }), 'ready up\n', 'a line ended by a half-close is whole')
})

test('HTTP: a handful of addresses cannot fill max_connections; a new address gets the reserve', async (t) => {
  // 100 connections in all: 75 for everyone, the last 25 only for addresses holding fewer than 16.
  const server = await startServer({
    config: makeConfig({ max_connections: 100, max_connections_per_client: 60, request_header_timeout: 30 }),
    spool: await tempSpool(t),
    ports: [0],
    bindAddress: '127.0.0.1'
  })
  t.after(async () => { await server.close() })
  const port = server.addresses[0]?.port as number
  const flooders = ['127.0.0.3', '127.0.0.4']
  const held = [...await idle(t, port, 40, flooders[0]), ...await idle(t, port, 40, flooders[1])]
  const open = held.filter((s) => !s.destroyed && !s.readableEnded)
  t.diagnostic(`two flooding addresses asked 80 connections, hold ${open.length}`)
  assert.ok(open.length <= 75 + 2, `the flooders hold ${open.length}, at most about 75`)
  const res = await getFrom('127.0.0.5', `http://127.0.0.1:${port}/spool/web/0/`, { timeoutMs: 2000 })
  assert.deepEqual([res.status, res.body], [200, ''], 'a checker on a new address is answered')
  const [more] = await idle(t, port, 1, flooders[0])
  assert.ok(more !== undefined && await closedWithin(more, 1000), 'a flooder is refused first')
  for (const s of held) s.destroy()
})
