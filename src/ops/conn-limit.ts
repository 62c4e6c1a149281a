/**
 * Per-client connection limits for a listening socket (the HTTP ports, the agent port): one
 * client address may hold at most `maxPerClient` connections at once; a connection beyond that
 * is closed on arrival, before anything is read from it. The global limit (`maxConnections` of
 * the server) stays well above it, so one address that floods a port (slowloris, idle
 * connections) can take its own share and no more, and other clients are still served.
 *
 * A real balancer holds one connection per check in flight (HAProxy 2.6 does, see
 * `test/e2e/haproxy-connections.test.ts`), so the defaults are far above anything it opens.
 * Counts are kept only for addresses with open connections: the map never outgrows the
 * server's own connection limit.
 */
import type { Server, Socket } from 'node:net'

/** Options for {@link ClientConnections}. */
export interface ClientConnectionsOptions {
  /** Most connections one client address may hold open at once. */
  maxPerClient: number
  /** Called for each connection closed on arrival, with the client address (metrics, logs). */
  onRefused?: (address: string, open: number) => void
}

/**
 * The same client written the same way: IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as a dual-stack
 * listener sees IPv4 clients) counts as its IPv4 address.
 */
export function clientAddress (address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/** Open connections by client address, and the decision to admit one more. */
export class ClientConnections {
  private readonly open = new Map<string, number>()
  private readonly max: number
  private readonly onRefused: ((address: string, open: number) => void) | undefined

  constructor (opts: ClientConnectionsOptions) {
    this.max = opts.maxPerClient
    this.onRefused = opts.onRefused
  }

  /**
   * Counts a new connection, or destroys it when its address already holds `maxPerClient`.
   *
   * @returns whether the connection was admitted.
   */
  admit (socket: Socket): boolean {
    const raw = socket.remoteAddress
    if (raw === undefined) return true // already closed: nothing to hold
    const address = clientAddress(raw)
    const n = this.open.get(address) ?? 0
    if (n >= this.max) {
      socket.destroy()
      this.onRefused?.(address, n)
      return false
    }
    this.open.set(address, n + 1)
    socket.once('close', () => {
      const left = (this.open.get(address) ?? 1) - 1
      if (left <= 0) this.open.delete(address)
      else this.open.set(address, left)
    })
    return true
  }

  /** Connections `address` holds now. */
  count (address: string): number {
    return this.open.get(clientAddress(address)) ?? 0
  }

  /** Addresses holding at least one connection. */
  get clients (): number {
    return this.open.size
  }
}

/**
 * Applies a per-client limit to every connection `server` accepts (listens on `connection`,
 * after the server's own listener).
 */
export function limitConnectionsPerClient (server: Server, opts: ClientConnectionsOptions): ClientConnections {
  const limits = new ClientConnections(opts)
  server.on('connection', (socket: Socket) => { limits.admit(socket) })
  return limits
}
