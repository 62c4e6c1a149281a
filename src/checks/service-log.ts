/**
 * Who asked about which service, for `/recent` and `/status/count` (docs/http-api.md "Monitoring routes").
 *
 * Bounded: a client can invent service names and (with many source addresses) clients, so the
 * least recently answered services are forgotten past `maxServices`, the first-counted client
 * addresses of a service past `maxClientsPerService`, and no new (service, client) pair is
 * counted once `maxCounts` pairs are: its requests are added up in `uncounted` instead, which
 * `/status/count` reports. So `/status/count` stays small and cheap whatever clients do.
 */
import { LRUCache } from 'lru-cache'
import { tenthsOfMs } from '../checkers/status.js'

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
  /** Most services remembered; default {@link DEFAULT_MAX_SERVICES}. */
  maxServices?: number
  /** Most client addresses counted per service; default 1024. */
  maxClientsPerService?: number
  /** Most (service, client) pairs counted, all services together; default {@link DEFAULT_MAX_COUNTS}. */
  maxCounts?: number
  /** Clock in unix seconds. */
  nowSeconds?: () => number
}

/**
 * Default bound on services remembered: far more than one host serves, and `/recent` at the
 * bound is about 230 KB and a few milliseconds of event loop (`bench/monitoring.ts`).
 */
export const DEFAULT_MAX_SERVICES = 2048

/**
 * Default bound on (service, client) pairs: forty balancers asking about a hundred services
 * each fit; `/status/count` at the bound is about 130 KB and a few milliseconds of event loop
 * (`bench/monitoring.ts`).
 */
export const DEFAULT_MAX_COUNTS = 4096

/** What `/status/count` shows: the counts, and what they leave out. */
export interface AccessCounts {
  /** `{ service: { clientIp: requests } }`. */
  counts: Record<string, Record<string, number>>
  /** Requests of (service, client) pairs not counted because `maxCounts` pairs already were. */
  uncounted: number
  /** The bound on (service, client) pairs. */
  maxCounts: number
}

/** A copy of an entry without the keys it does not have (the reference's three, for a bare record). */
function snapshot (seen: SeenEntry): SeenEntry {
  const copy: SeenEntry = { code: seen.code, remote_ip: seen.remote_ip, ts: seen.ts }
  if (seen.check_status !== undefined) copy.check_status = seen.check_status
  if (seen.duration_ms !== undefined) copy.duration_ms = seen.duration_ms
  return copy
}

/** What is kept per service. */
interface ServiceRecord {
  /** Mutated in place by each answer (one allocation per service, not per request). */
  seen: SeenEntry
  clients: Map<string, number>
}

/** Per-service record of the last answer and of request counts by client address. */
export class ServiceLog {
  /** Least recently answered services are forgotten first (lru-cache: no Map churn per request). */
  private readonly services: LRUCache<string, ServiceRecord>
  private readonly maxClients: number
  private readonly maxCounts: number
  private readonly nowSeconds: () => number
  /** (service, client) pairs counted now, all services together. */
  private counted = 0
  private uncounted = 0

  constructor (opts: ServiceLogOptions = {}) {
    this.services = new LRUCache({
      max: opts.maxServices ?? DEFAULT_MAX_SERVICES,
      dispose: (rec) => { this.counted -= rec.clients.size }
    })
    this.maxClients = opts.maxClientsPerService ?? 1024
    this.maxCounts = opts.maxCounts ?? DEFAULT_MAX_COUNTS
    this.nowSeconds = opts.nowSeconds ?? (() => Date.now() / 1000)
  }

  /** Records one answered check; `details` adds `check_status` and `duration_ms` to its `/recent` entry. */
  record (service: string, code: number, remoteIp: string, details?: SeenDetails): void {
    const ts = this.nowSeconds()
    const checkStatus = details?.checkStatus
    const durationMs = details === undefined ? undefined : tenthsOfMs(details.durationMs)
    let rec = this.services.get(service)
    if (rec === undefined) {
      // All keys present from the start (undefined ones are left out of JSON), in /recent's order.
      rec = { seen: { code, remote_ip: remoteIp, ts, check_status: checkStatus, duration_ms: durationMs }, clients: new Map() }
      this.services.set(service, rec)
    } else {
      const seen = rec.seen
      seen.code = code
      seen.remote_ip = remoteIp
      seen.ts = ts
      seen.check_status = checkStatus
      seen.duration_ms = durationMs
    }
    const n = rec.clients.get(remoteIp)
    if (n !== undefined) {
      rec.clients.set(remoteIp, n + 1)
      return
    }
    if (rec.clients.size >= this.maxClients) {
      // A new client of a service at its limit replaces the one counted first.
      rec.clients.delete(rec.clients.keys().next().value as string)
    } else if (this.counted >= this.maxCounts) {
      this.uncounted++
      return
    } else {
      this.counted++
    }
    rec.clients.set(remoteIp, 1)
  }

  /** Services answered within the last `thresholdSeconds`, sorted by name, as `/recent` lists them. */
  recent (thresholdSeconds: number): Array<[string, SeenEntry]> {
    const now = this.nowSeconds()
    const out: Array<[string, SeenEntry]> = []
    for (const [service, rec] of this.services.entries()) {
      if (now - rec.seen.ts < thresholdSeconds) out.push([service, snapshot(rec.seen)])
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /**
   * `JSON.stringify(recent(thresholdSeconds))`, without copying each entry first (the copies are
   * only needed by callers that keep the entries): the answer of `/recent` at the bounds is
   * then a few milliseconds of work and little garbage.
   */
  recentJson (thresholdSeconds: number): string {
    const now = this.nowSeconds()
    const rows: Array<[string, SeenEntry]> = []
    for (const [service, rec] of this.services.entries()) {
      if (now - rec.seen.ts < thresholdSeconds) rows.push([service, rec.seen])
    }
    return JSON.stringify(rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }

  /**
   * The request counts by service and client, as `/status/count` shows them, and what they
   * leave out. Built with `Object.fromEntries`, so a service named `__proto__` is a key like
   * any other.
   */
  accessCounts (): AccessCounts {
    const counts = Object.fromEntries([...this.services.entries()].map(([service, rec]) => [service, Object.fromEntries(rec.clients)]))
    return { counts, uncounted: this.uncounted, maxCounts: this.maxCounts }
  }

  /**
   * `JSON.stringify(accessCounts().counts)`, written directly: one object per service with its
   * own client addresses as keys would give V8 a hidden class each, which at the bounds costs
   * tens of milliseconds of event loop; this costs a few.
   */
  accessCountsJson (): string {
    const parts: string[] = []
    for (const [service, rec] of this.services.entries()) {
      const clients: string[] = []
      for (const [client, n] of rec.clients) clients.push(`${JSON.stringify(client)}:${n}`)
      parts.push(`${JSON.stringify(service)}:{${clients.join(',')}}`)
    }
    return `{${parts.join(',')}}`
  }

  /** Requests not counted because `maxCounts` pairs already were, and that bound. */
  get uncountedRequests (): { uncounted: number, maxCounts: number } {
    return { uncounted: this.uncounted, maxCounts: this.maxCounts }
  }
}
