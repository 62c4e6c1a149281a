/**
 * How many connections HAProxy 2.6 holds open to a host's hacheck, which the per-client limits
 * (`max_connections_per_client`, `agent_max_connections_per_client`) must never get near.
 *
 * A counting stand-in listens where hacheck would and answers every HTTP check and agent check
 * after a delay, so checks overlap as much as they can (a slow service, checks every 100 ms):
 * HAProxy then holds one connection per server check in flight, and one per agent check, never
 * more. The numbers are printed; the defaults leave ample headroom over them.
 */
import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { makeConfig } from '../../src/config/index.js'
import { HANG_MS, waitFor } from '../helper.js'
import { startHaproxy } from './haproxy.js'

/** A TCP server that answers each connection after `delayMs` with `reply`, counting concurrent connections. */
async function countingResponder (t: TestContext, reply: string, delayMs: number): Promise<{ port: number, peak: () => number, total: () => number }> {
  let open = 0
  let peak = 0
  let total = 0
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    open++
    total++
    peak = Math.max(peak, open)
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => { open--; sockets.delete(socket) })
    socket.once('data', () => { setTimeout(() => { if (!socket.destroyed) socket.end(reply) }, delayMs) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const s of sockets) s.destroy(); server.close() })
  const address = server.address()
  return { port: typeof address === 'object' && address !== null ? address.port : 0, peak: () => peak, total: () => total }
}

async function measure (t: TestContext, servers: number, delayMs: number): Promise<{ http: number, agent: number, checks: number }> {
  const http = await countingResponder(t, 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', delayMs)
  const agent = await countingResponder(t, 'ready up\n', delayMs)
  const lines = Array.from({ length: servers }, (_, i) =>
    `  server s${i} 127.0.0.1:${10000 + i} check port ${http.port} inter 100 fall 2 rise 2 agent-check agent-port ${agent.port} agent-send "s${i}\\n" agent-inter 100`)
  await startHaproxy(t, ['backend many', '  option httpchk GET /spool/web/0/', '  http-check send-state', '  timeout check 5s', ...lines].join('\n'))
  // Every server checked three times over, both ways: the checks have overlapped as much as they
  // will (counted, not guessed from a duration: a busy machine only takes longer).
  await waitFor(async () => http.total() >= 3 * servers && agent.total() >= 3 * servers ? true : undefined, HANG_MS, `${3 * servers} checks of each kind`)
  return { http: http.peak(), agent: agent.peak(), checks: http.total() }
}

test('HAProxy 2.6 holds one connection per server check in flight: far below the per-client defaults', async (t) => {
  const config = makeConfig()
  const few = await measure(t, 3, 0)
  t.diagnostic(`3 servers, inter 100, answers at once: peak ${few.http} HTTP check connections, ${few.agent} agent connections (${few.checks} checks)`)
  const many = await measure(t, 200, 1000)
  t.diagnostic(`200 servers, inter 100, answers after 1 s: peak ${many.http} HTTP check connections, ${many.agent} agent connections (${many.checks} checks)`)
  assert.ok(few.http <= 3 && few.agent <= 3)
  assert.ok(many.http <= 200 && many.agent <= 200, 'never more than one connection per server check')
  assert.ok(many.http >= 150, `the checks did overlap (${many.http})`)
  assert.ok(config.max_connections_per_client >= 5 * many.http, `max_connections_per_client ${config.max_connections_per_client}`)
  assert.ok(config.agent_max_connections_per_client >= 5 * many.agent, `agent_max_connections_per_client ${config.agent_max_connections_per_client}`)
  assert.ok(config.max_connections_per_client <= config.max_connections / 4, 'one address can take at most a quarter of the port')
  assert.ok(config.agent_max_connections_per_client <= config.agent_max_connections / 4)
})
