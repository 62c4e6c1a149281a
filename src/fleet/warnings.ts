/**
 * (ours) The fleet view's warnings about ignored or unreadable keys: one per key and revision
 * (a resync re-reads the same bad keys without repeating it), at most
 * {@link WARNINGS_PER_MINUTE} a minute, the rest counted and reported with the next one; never
 * the value itself.
 */
import type { FleetKv } from './view.js'

/** Where the view reports ignored or unreadable keys (rate limited by {@link FleetWarnings}). */
export type FleetWarn = (fields: Record<string, unknown>, message: string) => void

/** Warnings per minute at most; the rest are counted and reported with the next one. */
const WARNINGS_PER_MINUTE = 10

/** The rate-limited warnings of one view. State: the keys warned about, the minute's window. */
export class FleetWarnings {
  private readonly sink: FleetWarn
  private readonly nowSeconds: () => number
  private readonly maxRemembered: number
  private warned = new Set<string>()
  private readonly window = { start: Number.NEGATIVE_INFINITY, count: 0, suppressed: 0 }

  /**
   * @param sink - where warnings go.
   * @param nowSeconds - clock, unix seconds.
   * @param maxRemembered - keys remembered before the memory starts over.
   */
  constructor (sink: FleetWarn, nowSeconds: () => number, maxRemembered: number) {
    this.sink = sink
    this.nowSeconds = nowSeconds
    this.maxRemembered = maxRemembered
  }

  /** Warns about `kv` once per key and revision, within the rate. */
  warn (kv: FleetKv, message: string): void {
    const id = `${kv.key}\u0000${kv.modRevision}`
    if (this.warned.has(id)) return
    if (this.warned.size >= this.maxRemembered) this.warned = new Set()
    this.warned.add(id)
    const now = this.nowSeconds()
    const w = this.window
    if (now - w.start >= 60) { w.start = now; w.count = 0 }
    if (w.count >= WARNINGS_PER_MINUTE) { w.suppressed++; return }
    w.count++
    const suppressed = w.suppressed
    w.suppressed = 0
    this.sink({ key: kv.key.slice(0, 512), mod_revision: kv.modRevision, bytes: kv.valueBytes ?? kv.value.byteLength, ...(suppressed > 0 ? { suppressed } : {}) }, message)
  }
}
