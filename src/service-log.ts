/**
 * Who asked about which service, for `/recent` and `/status/count` (CONTRACT section 4).
 *
 * Bounded: a client can invent service names, so the oldest services are forgotten past
 * `maxServices`, and the oldest client addresses of a service past `maxClientsPerService`.
 */

/** The last answer given for a service, as `/recent` shows it. */
export interface SeenEntry {
  code: number
  remote_ip: string
  /** Unix seconds (float). */
  ts: number
}

/** Options for {@link ServiceLog}. */
export interface ServiceLogOptions {
  /** Most services remembered; default 10000. */
  maxServices?: number
  /** Most client addresses counted per service; default 1024. */
  maxClientsPerService?: number
  /** Clock in unix seconds. */
  now?: () => number
}

/** Map.set that moves the key to the newest position and drops the oldest past `max`. */
function touch<K, V> (map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value as K)
}

/** Per-service record of the last answer and of request counts by client address. */
export class ServiceLog {
  private readonly seen = new Map<string, SeenEntry>()
  private readonly counts = new Map<string, Map<string, number>>()
  private readonly maxServices: number
  private readonly maxClients: number
  private readonly now: () => number

  constructor (opts: ServiceLogOptions = {}) {
    this.maxServices = opts.maxServices ?? 10000
    this.maxClients = opts.maxClientsPerService ?? 1024
    this.now = opts.now ?? (() => Date.now() / 1000)
  }

  /** Records one answered check. */
  record (service: string, code: number, remoteIp: string): void {
    touch(this.seen, service, { code, remote_ip: remoteIp, ts: this.now() }, this.maxServices)
    const clients = this.counts.get(service) ?? new Map<string, number>()
    touch(clients, remoteIp, (clients.get(remoteIp) ?? 0) + 1, this.maxClients)
    touch(this.counts, service, clients, this.maxServices)
  }

  /** Services answered within the last `thresholdSeconds`, sorted by name, as `/recent` lists them. */
  recent (thresholdSeconds: number): Array<[string, SeenEntry]> {
    const now = this.now()
    return [...this.seen.entries()]
      .filter(([, entry]) => now - entry.ts < thresholdSeconds)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** `{ service: { clientIp: requests } }`, as `/status/count` shows it. */
  accessCounts (): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {}
    for (const [service, clients] of this.counts) out[service] = Object.fromEntries(clients)
    return out
  }
}
