/**
 * The checker result cache: TTL = `cache_time`, bounded by entry count and by bytes
 * (`cache_max_bytes`: keys and results as V8 stores them, so distinct query strings against an
 * upstream with big bodies cannot grow the process), expired entries purged, failures cached
 * too, concurrent misses on one key sharing one in-flight probe, `Pragma: no-cache` per request.
 * Spool answers never come here. docs/http-api.md "Cache and outbound limit".
 *
 * Storage and expiry are lru-cache's; the policy (keys, sharing, bypass, counters) is ours.
 */
import { performance } from 'node:perf_hooks'
import { LRUCache } from 'lru-cache'

/** Counters shown in `/status` under `cache` (names as the reference's). */
export interface CacheStats {
  /** Lookups. */
  gets: number
  /** Lookups answered without a new probe: a fresh entry, or a probe already in flight. */
  hits: number
  /** Lookups that started a probe (including `Pragma: no-cache`). */
  misses: number
  /** Results stored. */
  sets: number
  /** Lookups that found an entry past its TTL. */
  expirations: number
}

/** What identifies a probe's result. The service joins only when `service_name_header` is set. */
export interface CacheKeyParts {
  protocol: string
  host: string
  port: number
  query: string
  queryString: string
  /** Present only when probes differ by service (`service_name_header` set). */
  service?: string | undefined
  /**
   * The request headers the probe forwards (`http_headers_to_copy`, `service_name_header`), by
   * lower-case name: they change the upstream's answer, so one client's `Host` must never
   * decide what another client is told.
   */
  headers?: Readonly<Record<string, string>> | undefined
}

/** The forwarded headers as one key field: `name:value` pairs sorted by name, each URI-encoded. */
function headersField (headers: Readonly<Record<string, string>> | undefined): string {
  if (headers === undefined) return ''
  return Object.keys(headers).sort().map((name) => `${encodeURIComponent(name)}:${encodeURIComponent(headers[name] ?? '')}`).join(',')
}

/**
 * Writes the key out: `protocol|host|port|service|headers|query?queryString`. No field before
 * the query can contain `|` (header names and values are URI-encoded), so distinct parts never
 * collide.
 */
export function cacheKey (p: CacheKeyParts): string {
  return `${p.protocol}|${p.host}|${p.port}|${p.service ?? ''}|${headersField(p.headers)}|${p.query}?${p.queryString}`
}

const BEYOND_LATIN1 = /[\u0100-\uffff]/

/**
 * Bytes V8 takes for a string's characters: one per character while all are Latin-1, two per
 * character as soon as one is not (an estimate: headers and sharing are left out).
 */
export function stringBytes (text: string): number {
  return BEYOND_LATIN1.test(text) ? text.length * 2 : text.length
}

/** Bytes counted per entry besides its key and value: lru-cache's slot, the result object. */
export const ENTRY_OVERHEAD_BYTES = 256

/** Options for {@link ResultCache}. */
export interface ResultCacheOptions<V> {
  /** How long a result is reused, seconds; 0 stores nothing (in-flight probes are still shared). */
  ttlSeconds: number
  /** Most entries kept; the least recently used go first. */
  maxEntries: number
  /**
   * Most bytes kept: keys, values by `sizeOf`, and {@link ENTRY_OVERHEAD_BYTES} each; the least
   * recently used go first, and a value bigger than this is not stored. Default 32 MiB.
   */
  maxBytes?: number
  /** Bytes a value takes (e.g. its message by {@link stringBytes}); default 0 (keys and overhead only). */
  sizeOf?: (value: V) => number
  /** Whether a probe's result may be stored; default all. Others are returned, never reused. */
  shouldStore?: (value: V) => boolean
  /** Clock in milliseconds (`performance`-like); injected by tests. */
  perf?: { now: () => number }
}

/** A TTL cache of probe results with in-flight sharing. One per server. */
export class ResultCache<V extends object> {
  private readonly lru: LRUCache<string, V> | undefined
  private readonly inFlight = new Map<string, Promise<V>>()
  private readonly counters: CacheStats = { gets: 0, hits: 0, misses: 0, sets: 0, expirations: 0 }
  private readonly clock: { now: () => number }
  private readonly ttlMs: number
  private purgedAt: number
  private readonly shouldStore: (value: V) => boolean

  constructor (opts: ResultCacheOptions<V>) {
    const sizeOf = opts.sizeOf ?? (() => 0)
    this.shouldStore = opts.shouldStore ?? (() => true)
    this.clock = opts.perf ?? performance
    this.ttlMs = opts.ttlSeconds * 1000
    this.purgedAt = this.clock.now()
    this.lru = opts.ttlSeconds > 0
      ? new LRUCache<string, V>({
        max: opts.maxEntries,
        maxSize: opts.maxBytes ?? 32 * 1024 * 1024,
        sizeCalculation: (value, key) => ENTRY_OVERHEAD_BYTES + stringBytes(key) + Math.max(0, sizeOf(value)),
        ttl: this.ttlMs,
        ttlAutopurge: false,
        // Stale entries are dropped when a lookup finds them or a purge sweeps them: count those
        // here rather than allocating a status object on every lookup.
        dispose: (_value, _key, reason) => { if (reason === 'expire') this.counters.expirations++ },
        // An injected clock must be read every time (lru-cache otherwise reuses a reading for 1 ms).
        ...(opts.perf === undefined ? {} : { perf: opts.perf, ttlResolution: 0 })
      })
      : undefined
  }

  /**
   * A cached result for `key`, else the result of an in-flight probe for it, else a new probe.
   * With `noCache`, always a new probe whose result is stored for later requests; it neither
   * joins nor is joined by other requests, so it changes nothing for them.
   *
   * @param probe - runs the check; should not reject (a rejection is passed on and not cached).
   */
  async get (key: string, probe: () => Promise<V>, opts: { noCache?: boolean } = {}): Promise<V> {
    this.counters.gets++
    if (opts.noCache !== true) {
      const cached = this.lru?.get(key)
      if (cached !== undefined) {
        this.counters.hits++
        return cached
      }
      const pending = this.inFlight.get(key)
      if (pending !== undefined) {
        this.counters.hits++
        return await pending
      }
    }
    this.counters.misses++
    this.purgeStale()
    const running = probe().then((value) => {
      if (this.lru !== undefined && this.shouldStore(value)) {
        this.lru.set(key, value)
        this.counters.sets++
      }
      return value
    })
    if (opts.noCache === true) return await running
    this.inFlight.set(key, running)
    try {
      return await running
    } finally {
      this.inFlight.delete(key)
    }
  }

  /**
   * Drops expired entries, at most once per TTL (on a miss, so a busy cache pays one sweep per
   * TTL and an idle one none): entries of keys never asked again do not linger until evicted.
   */
  private purgeStale (): void {
    if (this.lru === undefined) return
    const now = this.clock.now()
    if (now - this.purgedAt < this.ttlMs) return
    this.purgedAt = now
    this.lru.purgeStale()
  }

  /** A copy of the counters. */
  stats (): CacheStats {
    return { ...this.counters }
  }

  /** Entries currently stored (fresh or not yet purged). */
  get size (): number {
    return this.lru?.size ?? 0
  }

  /** Bytes currently stored, as counted against `maxBytes`. */
  get bytes (): number {
    return this.lru?.calculatedSize ?? 0
  }
}
