/**
 * Who asked about which service, for `/recent` and `/status/count` (CONTRACT section 4).
 *
 * Bounded: a client can invent service names, so the oldest services are forgotten past
 * `maxServices`, and the oldest client addresses of a service past `maxClientsPerService`.
 */

/** The last answer given for a service, as `/recent` shows it (keys in this order). */
export interface SeenEntry {
  code: number
  remote_ip: string
  /** Unix seconds (float). */
  ts: number
  /** (ours) HAProxy check status of the answer (`L7OK`, `L4CON`, ...). */
  check_status?: string
  /** (ours) Probe duration in milliseconds, 0.1 ms resolution (0 for spool answers). */
  duration_ms?: number
}

/** (ours) What {@link ServiceLog.record} adds after the reference's keys. */
export interface SeenDetails {
  checkStatus: string
  durationMs: number
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

  /** Records one answered check; `details` adds `check_status` and `duration_ms` to its `/recent` entry. */
  record (service: string, code: number, remoteIp: string, details?: SeenDetails): void {
    const entry: SeenEntry = { code, remote_ip: remoteIp, ts: this.now() }
    if (details !== undefined) {
      entry.check_status = details.checkStatus
      entry.duration_ms = Math.round(details.durationMs * 10) / 10
    }
    touch(this.seen, service, entry, this.maxServices)
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
