/**
 * Per-client connection limits for a listening socket (the HTTP ports, the agent port): one
 * client address may hold at most `maxPerClient` connections at once; a connection beyond that
 * is closed on arrival, before anything is read from it. So that a handful of addresses cannot
 * fill the global limit (`maxTotal`, the server's `maxConnections`) between them, the last
 * {@link RESERVE_SHARE} of it is kept for addresses holding fewer than {@link FEW}
 * connections: once the listener holds `maxTotal - reserve`, an address that already holds
 * {@link FEW} or more is refused first, and a checker on a new address still gets in.
 *
 * A real balancer holds one connection per check in flight (HAProxy 2.6 does, see
 * `test/e2e/haproxy-connections.test.ts`), so the defaults are far above anything it opens.
 * Counts are kept only for addresses with open connections: the map never outgrows the
 * server's own connection limit.
 */
import type { Server, Socket } from 'node:net'

/** Share of the global limit kept for addresses that hold few connections. */
export const RESERVE_SHARE = 0.25
/** Connections an address may hold and still use the reserve (a balancer's checks in flight). */
export const FEW = 16

/** Options for {@link ClientConnections}. */
export interface ClientConnectionsOptions {
  /** Most connections one client address may hold open at once. */
  maxPerClient: number
  /** The listener's global limit; with it, {@link RESERVE_SHARE} of it is kept for addresses holding fewer than {@link FEW}. */
  maxTotal?: number
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
  /** Connections held by all addresses together past which only addresses holding fewer than {@link FEW} are admitted. */
  private readonly busy: number
  private readonly onRefused: ((address: string, open: number) => void) | undefined
  private total = 0

  constructor (opts: ClientConnectionsOptions) {
    this.max = opts.maxPerClient
    this.busy = opts.maxTotal === undefined ? Number.POSITIVE_INFINITY : opts.maxTotal - Math.floor(opts.maxTotal * RESERVE_SHARE)
    this.onRefused = opts.onRefused
  }

  /**
   * Counts a new connection, or destroys it when its address already holds `maxPerClient`, or
   * holds {@link FEW} or more while the listener is past `maxTotal - reserve`.
   *
   * @returns whether the connection was admitted.
   */
  admit (socket: Socket): boolean {
    const raw = socket.remoteAddress
    if (raw === undefined) return true // already closed: nothing to hold
    const address = clientAddress(raw)
    const n = this.open.get(address) ?? 0
    if (n >= this.max || (n >= FEW && this.total >= this.busy)) {
      socket.destroy()
      this.onRefused?.(address, n)
      return false
    }
    this.open.set(address, n + 1)
    this.total++
    socket.once('close', () => {
      this.total--
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

  /** Connections held by every address together. */
  get connections (): number {
    return this.total
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
