/**
 * (ours) Probe latency per service over the last minutes, for the status page's sparklines: a
 * slowing service shows before it fails.
 *
 * Time is cut into buckets (10 s by default, 60 of them: the last 10 minutes). Each bucket keeps
 * the slowest probe that ran in it and whether any of them failed; the slowest, not the mean,
 * because one slow probe is what a balancer's timeout sees. Fed by the health service's probe
 * listener, so cached answers and spool answers add nothing: a sample is a probe that ran.
 *
 * Bounded twice, since clients choose service names: at most `maxServices` series (the least
 * recently probed forgotten first), each a fixed set of typed arrays (about 1 KB). No state
 * outside the instance.
 */
import { LRUCache } from 'lru-cache'
import { tenthsOfMs } from '../checkers/status.js'

/** Options for {@link LatencyHistory}. */
export interface LatencyHistoryOptions {
  /** Most services kept; default 1000. */
  maxServices?: number
  /** Width of one bucket in seconds; default 10. */
  bucketSeconds?: number
  /** Buckets kept per service; default 60 (with 10 s buckets: the last 10 minutes). */
  buckets?: number
  /** Clock in unix seconds. */
  nowSeconds?: () => number
}

/** One service's latency over the window, oldest bucket first. */
export interface LatencySeries {
  /** Width of one bucket, seconds. */
  bucket_seconds: number
  /** Unix seconds at which the newest bucket ends (the window is `points.length` buckets before it). */
  end: number
  /** Slowest probe per bucket in milliseconds (0.1 ms resolution); null where no probe ran. */
  points: Array<number | null>
  /** Indices into `points` of buckets in which a probe failed. */
  failed: number[]
}

/** What one service keeps: per slot, the bucket number it holds, its slowest probe, a failure flag. */
interface Series {
  bucket: Float64Array
  maxMs: Float32Array
  failed: Uint8Array
}

/** Bounded per-service probe latency history. One per server. */
export class LatencyHistory {
  readonly bucketSeconds: number
  readonly buckets: number
  private readonly series: LRUCache<string, Series>
  private readonly nowSeconds: () => number

  constructor (opts: LatencyHistoryOptions = {}) {
    this.bucketSeconds = opts.bucketSeconds ?? 10
    this.buckets = opts.buckets ?? 60
    this.series = new LRUCache({ max: opts.maxServices ?? 1000 })
    this.nowSeconds = opts.nowSeconds ?? (() => Date.now() / 1000)
  }

  /**
   * Records one probe of `service`.
   *
   * @param durationMs - how long the probe took, milliseconds.
   * @param passing - whether it passed (HAProxy's sense, see `checkers/status.ts`).
   */
  record (service: string, durationMs: number, passing: boolean): void {
    const bucket = Math.floor(this.nowSeconds() / this.bucketSeconds)
    let s = this.series.get(service)
    if (s === undefined) {
      s = { bucket: new Float64Array(this.buckets).fill(-1), maxMs: new Float32Array(this.buckets), failed: new Uint8Array(this.buckets) }
      this.series.set(service, s)
    }
    const slot = bucket % this.buckets
    if (s.bucket[slot] !== bucket) {
      s.bucket[slot] = bucket
      s.maxMs[slot] = 0
      s.failed[slot] = 0
    }
    const ms = Number.isFinite(durationMs) && durationMs > 0 ? durationMs : 0
    if (ms > (s.maxMs[slot] as number)) s.maxMs[slot] = ms
    if (!passing) s.failed[slot] = 1
  }

  /** The series of one service over the window ending now, or undefined when it was never probed (or was forgotten). */
  get (service: string): LatencySeries | undefined {
    const s = this.series.peek(service)
    if (s === undefined) return undefined
    const newest = Math.floor(this.nowSeconds() / this.bucketSeconds)
    const points: Array<number | null> = []
    const failed: number[] = []
    for (let i = 0; i < this.buckets; i++) {
      const bucket = newest - this.buckets + 1 + i
      const slot = bucket % this.buckets
      if (s.bucket[slot] !== bucket) {
        points.push(null)
        continue
      }
      points.push(tenthsOfMs(s.maxMs[slot] as number))
      if (s.failed[slot] === 1) failed.push(i)
    }
    return { bucket_seconds: this.bucketSeconds, end: (newest + 1) * this.bucketSeconds, points, failed }
  }

  /** Services with a series. */
  get size (): number {
    return this.series.size
  }
}
