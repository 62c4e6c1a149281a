/**
 * The checker result cache: TTL = `cache_time`, bounded entry count, failures cached too,
 * concurrent misses on one key sharing one in-flight probe, `Pragma: no-cache` per request.
 * Spool answers never come here. CONTRACT section 3 "Cache".
 *
 * Storage and expiry are lru-cache's; the policy (keys, sharing, bypass, counters) is ours.
 */
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
}

/**
 * Writes the key out: `protocol|host|port|service|query?queryString`. No field before the query
 * can contain `|`, so distinct parts never collide.
 */
export function cacheKey (p: CacheKeyParts): string {
  return `${p.protocol}|${p.host}|${p.port}|${p.service ?? ''}|${p.query}?${p.queryString}`
}

/** Options for {@link ResultCache}. */
export interface ResultCacheOptions {
  /** How long a result is reused, seconds; 0 stores nothing (in-flight probes are still shared). */
  ttlSeconds: number
  /** Most entries kept; the least recently used go first. */
  maxEntries: number
  /** Clock in milliseconds (`performance`-like); injected by tests. */
  perf?: { now: () => number }
}

/** A TTL cache of probe results with in-flight sharing. One per server. */
export class ResultCache<V extends object> {
  private readonly lru: LRUCache<string, V> | undefined
  private readonly inFlight = new Map<string, Promise<V>>()
  private readonly counters: CacheStats = { gets: 0, hits: 0, misses: 0, sets: 0, expirations: 0 }

  constructor (opts: ResultCacheOptions) {
    this.lru = opts.ttlSeconds > 0
      ? new LRUCache<string, V>({
        max: opts.maxEntries,
        ttl: opts.ttlSeconds * 1000,
        ttlAutopurge: false,
        // Stale entries are dropped when a lookup finds them: count those here rather than
        // allocating a status object on every lookup.
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
    const running = probe().then((value) => {
      if (this.lru !== undefined) {
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

  /** A copy of the counters. */
  stats (): CacheStats {
    return { ...this.counters }
  }

  /** Entries currently stored (fresh or not yet purged). */
  get size (): number {
    return this.lru?.size ?? 0
  }
}
