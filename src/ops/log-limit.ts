/**
 * Rate limits for log lines that clients can cause (refused check targets, refused remote spool
 * changes, bad requests, connection-limit refusals, result state changes), so that no client
 * can fill a disk by asking: each line belongs to a category and a key (usually the client
 * address, or the check target), and both have a token bucket. A line passes when its key and
 * its category both have a token; the others are counted, and one summary per category,
 * `<n> similar lines suppressed`, is written when the summary interval ends.
 *
 * Token buckets: a key or category may write `burst` lines at once, then `perMinute` lines a
 * minute. So a real incident (a host whose 300 services all fail at once) is logged in full,
 * while a flood is cut to a trickle of known size. State lives in the instance (built at
 * start-up, passed to whoever logs); keys are bounded (least recently used forgotten first).
 */
import { LRUCache } from 'lru-cache'

/** A token bucket's shape: lines at once, then lines per minute. */
export interface LogBudget {
  burst: number
  perMinute: number
}

/** The budgets of one category: per key, and for all keys together. */
export interface CategoryBudget {
  perKey: LogBudget
  perCategory: LogBudget
}

/** Budget of lines one client (or target) can cause in a category, and all clients together. */
export const DEFAULT_BUDGET: CategoryBudget = Object.freeze({
  perKey: Object.freeze({ burst: 5, perMinute: 6 }),
  perCategory: Object.freeze({ burst: 100, perMinute: 60 })
})

/**
 * Result state changes: a whole host's worth of services flipping at once is logged in full,
 * a flapping target at most 6 lines a minute after its first 5, and a flood of invented
 * services at most 120 lines a minute after the first 500.
 */
export const STATE_CHANGE_BUDGET: CategoryBudget = Object.freeze({
  perKey: Object.freeze({ burst: 5, perMinute: 6 }),
  perCategory: Object.freeze({ burst: 500, perMinute: 120 })
})

/** Where summaries go: pino's `warn(obj, msg)`. */
export interface SummaryLogger {
  warn: (obj: object, msg: string) => void
}

/** Options for {@link LogLimiter}. */
export interface LogLimiterOptions {
  /** Where `<n> similar lines suppressed` summaries go; none: counted only. */
  logger?: SummaryLogger | undefined
  /** Budgets by category; others get {@link DEFAULT_BUDGET}. */
  categories?: Readonly<Record<string, CategoryBudget>>
  /** Most keys remembered; default 10000. */
  maxKeys?: number
  /** How long after the first suppressed line its category's summary is written, ms; default 10000. */
  summaryIntervalMs?: number
  /** Clock in milliseconds; injected by tests. */
  nowMs?: () => number
}

interface Bucket {
  tokens: number
  at: number
}

interface Suppressed {
  count: number
  /** The key of the first line suppressed since the last summary. */
  example: string
}

/** Decides which client-caused log lines are written. One per server. */
export class LogLimiter {
  private readonly logger: SummaryLogger | undefined
  private readonly categories: Readonly<Record<string, CategoryBudget>>
  private readonly keys: LRUCache<string, Bucket>
  private readonly totals = new Map<string, Bucket>()
  private readonly suppressed = new Map<string, Suppressed>()
  private readonly intervalMs: number
  private readonly nowMs: () => number
  private timer: NodeJS.Timeout | undefined

  constructor (opts: LogLimiterOptions = {}) {
    this.logger = opts.logger
    this.categories = opts.categories ?? {}
    this.keys = new LRUCache({ max: opts.maxKeys ?? 10000 })
    this.intervalMs = opts.summaryIntervalMs ?? 10000
    this.nowMs = opts.nowMs ?? Date.now
  }

  /**
   * Whether a line of `category` caused by `key` may be written now. A `false` is counted
   * towards the category's next summary.
   */
  allow (category: string, key: string): boolean {
    const budget = this.categories[category] ?? DEFAULT_BUDGET
    const now = this.nowMs()
    const id = `${category}\u0000${key}`
    let own = this.keys.get(id)
    if (own === undefined) {
      own = { tokens: budget.perKey.burst, at: now }
      this.keys.set(id, own)
    }
    let total = this.totals.get(category)
    if (total === undefined) {
      total = { tokens: budget.perCategory.burst, at: now }
      this.totals.set(category, total)
    }
    if (take(own, budget.perKey, now) && take(total, budget.perCategory, now)) return true
    this.suppress(category, key)
    return false
  }

  /** Lines suppressed since the last summary, by category (for tests and metrics). */
  pending (): Record<string, number> {
    return Object.fromEntries([...this.suppressed].map(([category, s]) => [category, s.count]))
  }

  /** Writes the pending summaries now and stops the summary timer (call on close). */
  close (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.flush()
  }

  private suppress (category: string, key: string): void {
    const entry = this.suppressed.get(category)
    if (entry === undefined) this.suppressed.set(category, { count: 1, example: key })
    else entry.count++
    if (this.timer === undefined) {
      this.timer = setTimeout(() => { this.timer = undefined; this.flush() }, this.intervalMs)
      this.timer.unref()
    }
  }

  private flush (): void {
    for (const [category, { count, example }] of this.suppressed) {
      this.logger?.warn({ category, suppressed: count, example_key: example },
        `${count} similar lines suppressed (${category}; log rate limit, e.g. ${example})`)
    }
    this.suppressed.clear()
  }
}

/** Refills `bucket` for the time passed and takes one token if there is one. */
function take (bucket: Bucket, budget: LogBudget, now: number): boolean {
  const elapsed = now - bucket.at
  if (elapsed > 0) {
    bucket.tokens = Math.min(budget.burst, bucket.tokens + elapsed * budget.perMinute / 60000)
    bucket.at = now
  }
  if (bucket.tokens < 1) return false
  bucket.tokens -= 1
  return true
}
