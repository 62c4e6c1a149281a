/**
 * (ours) The agent-check server: a TCP responder for HAProxy's `agent-check`.
 *
 * Per connection: read an optional request line (`agent-send "web\n"`: `<service>` or
 * `<service>:<port>`) for at most `requestWaitMs`; nothing at all means the host (`all`). The
 * line ends at its newline, or where the client half-closes; a line still unfinished when the
 * window closes (a client trickling `we` ... `b\n`) is `down #bad request`, never answered for
 * the part that arrived. Answer one reply line (see `answer.ts`) and close. Garbage gets
 * `down #bad request`. Connections beyond `maxConnections`, or beyond
 * `maxConnectionsPerClient` from one address, are closed on arrival without a reply (HAProxy
 * keeps the previous state when it gets no line), so one address cannot take the port from the
 * others. Nothing a client sends can crash the process: every socket has an error handler and
 * every socket is destroyed within `lingerMs` after its reply.
 *
 * Folder agent/ (this is its main file): the HAProxy agent-check protocol, request line to
 * reply line. May import `checks/`, `checkers/`, `spool/`, `ops/`, `config/` and the top-level
 * leaves; never `http/` or Fastify.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import type { HealthService } from '../checks/health.js'
import type { Config } from '../config/index.js'
import { ClientConnections } from '../ops/conn-limit.js'
import type { LoadSampler } from '../ops/load-weight.js'
import type { Spool } from '../spool/spool.js'
import { SpoolWeights } from '../spool/weight.js'
import { answerAgent } from './answer.js'
import { MAX_REQUEST_BYTES, formatAgentReply, parseAgentRequest, type AgentRequest } from './reply.js'

/** Options for {@link startAgentServer}. */
export interface AgentServerOptions {
  config: Pick<Config, 'agentChecks' | 'agent_max_connections' | 'agent_max_connections_per_client'>
  health: Pick<HealthService, 'check'>
  spool: Pick<Spool, 'root' | 'nowSeconds' | 'fleet'>
  /** (ours) The load-weight sampler when load weights are on: replies carry the lower of its weight and the spool's. */
  load?: Pick<LoadSampler, 'weight'> | undefined
  /** TCP port; 0 picks a free one (tests). */
  port: number
  /** Address to bind, IPv4 or IPv6. */
  host: string
  /** (ours) A listening socket passed by systemd (ops/socket-activation.ts): used instead of `port` and `host`. */
  fd?: number | undefined
  /** Most connections served at once; default config `agent_max_connections`. */
  maxConnections?: number
  /** Most connections one client address may hold; default config `agent_max_connections_per_client`. */
  maxConnectionsPerClient?: number
  /** How long to wait for the request line, ms; default 250. */
  requestWaitMs?: number
  /** How long a socket may stay open after its reply, ms; default 500. */
  lingerMs?: number
  /** Called for each connection closed on arrival by the per-client limit (metrics, logs). */
  onRefused?: (address: string, open: number) => void
  logger?: Logger | undefined
}

/** A listening agent server. */
export interface AgentServer {
  readonly address: AddressInfo
  /** Open connections (for tests and stats). */
  readonly connections: () => number
  /**
   * Stops accepting; answers the connections already accepted whose line arrives within the
   * request wait (at most 250 ms more), closes those that stay silent and those already
   * answered; resolves when all are closed.
   */
  close: () => Promise<void>
}

/** (ours) Longest wait for the line of a connection accepted before a stop, milliseconds. */
const CLOSE_WAIT_MS = 250

/** The reply to a line that is not `<service>[:<port>]`. */
export const BAD_REQUEST_REPLY = formatAgentReply({ health: 'down', reason: 'bad request' })

/**
 * Starts the agent server.
 *
 * @throws the listen error (EADDRINUSE, ...).
 */
export async function startAgentServer (opts: AgentServerOptions): Promise<AgentServer> {
  const checks = opts.config.agentChecks
  const weights = new SpoolWeights(opts.spool)
  const requestWaitMs = opts.requestWaitMs ?? 250
  const lingerMs = opts.lingerMs ?? 500
  const perClient = new ClientConnections({
    maxPerClient: opts.maxConnectionsPerClient ?? opts.config.agent_max_connections_per_client,
    maxTotal: opts.maxConnections ?? opts.config.agent_max_connections,
    onRefused: opts.onRefused
  })
  const sockets = new Set<Socket>()
  // Answered and lingering: close() drops these. One still sending its line is answered (within
  // requestWaitMs) even while stopping, so a restart resets no check (docs/operator-guide.md
  // "Restarts and upgrades").
  const replied = new WeakSet<Socket>()
  // Still waiting for their line: close() shortens each wait to CLOSE_WAIT_MS.
  const awaiting = new Map<Socket, () => void>()
  let closing = false

  async function reply (socket: Socket, req: AgentRequest | null): Promise<void> {
    const text = req === null ? BAD_REQUEST_REPLY : formatAgentReply(await answerAgent(req, { health: opts.health, weights, checks, load: opts.load }, socket.remoteAddress))
    opts.logger?.debug({ agent: socket.remoteAddress, request: req, reply: text.trimEnd() }, 'agent check')
    if (socket.destroyed) return
    // Keep reading (and discarding) so the close is a FIN, never a RST that could eat the reply.
    socket.on('data', () => {})
    socket.resume()
    socket.end(text)
    replied.add(socket)
    if (closing) socket.destroySoon()
    setTimeout(() => { socket.destroy() }, lingerMs).unref()
  }

  function handle (socket: Socket): void {
    socket.on('error', () => {}) // resets and timeouts are the client's business
    if (!perClient.admit(socket)) return
    socket.setNoDelay(true)
    sockets.add(socket)
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    let ended = false
    const finish = (line: string | null): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      awaiting.delete(socket)
      socket.removeListener('data', onData)
      socket.pause()
      reply(socket, line === null ? null : parseAgentRequest(line)).catch(() => { socket.destroy() })
    }
    const pending = (): string => Buffer.concat(chunks).toString('latin1')
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size > MAX_REQUEST_BYTES) {
        finish(null)
      } else if (chunk.includes(0x0a)) {
        const text = pending()
        finish(text.slice(0, text.indexOf('\n')))
      }
    }
    // Nothing in time: the host. The client half-closed: what it sent is its whole line. A line
    // still unfinished when the window closes is a bad request: it may be cut anywhere.
    const onTimeout = (): void => { finish(size === 0 ? '' : ended ? pending() : null) }
    let timer = setTimeout(onTimeout, requestWaitMs)
    // Stopping: a line on its way is still answered; a connection silent for the whole wait is
    // closed without a reply (HAProxy keeps its last state on an empty agent reply).
    const onStopTimeout = (): void => { if (size === 0 && !ended) socket.destroy(); else onTimeout() }
    awaiting.set(socket, () => { clearTimeout(timer); timer = setTimeout(onStopTimeout, Math.min(requestWaitMs, CLOSE_WAIT_MS)) })
    socket.on('data', onData)
    socket.once('end', () => { ended = true; onTimeout() })
    socket.once('close', () => { clearTimeout(timer); sockets.delete(socket); awaiting.delete(socket) })
  }

  const server: Server = createServer({ allowHalfOpen: true }, handle)
  server.maxConnections = opts.maxConnections ?? opts.config.agent_max_connections
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // A burst of connections must queue, not be dropped (a dropped SYN costs a client a second).
    const backlog = Math.max(511, server.maxConnections)
    const where = opts.fd === undefined ? { port: opts.port, host: opts.host } : { fd: opts.fd }
    server.listen({ ...where, backlog }, () => { server.off('error', reject); resolve() })
  })
  const address = server.address() as AddressInfo
  return {
    address,
    connections: () => sockets.size,
    close: async () => {
      closing = true
      const closed = new Promise<void>((resolve) => server.close(() => { resolve() }))
      for (const socket of sockets) if (replied.has(socket)) socket.destroy()
      for (const shorten of awaiting.values()) shorten()
      await closed
    }
  }
}
