/**
 * (ours) The fleet view: this host's copy of its fleet keys, in memory, answering the spool's
 * lookups synchronously. The watcher (`watcher.ts`) fills it: a full {@link FleetMirror.replace}
 * from a range read at one revision, then {@link FleetMirror.apply} for each watched change after
 * that revision. The check path never waits on the network: when etcd is away the view keeps
 * the last state it had.
 *
 * Precedence (docs/fleet.md "Precedence between sources"): at each step of the lookup (`all`, `<service>`,
 * `<service>:<port>`) the local file is read first, then this host's key, then the fleet-wide
 * key; the first `down` or `maint` entry ends the lookup; a `drain` entry is returned only when
 * nothing in the whole lookup is `down` or `maint`. Weights: the lowest of every weight set,
 * whatever its source. Expired entries count as absent.
 */
import { HC_ERR_SPOOL_WEIGHT } from '../errors.js'
import { endsLookup, parseSpoolFileName, type SpoolEntry, type SpoolState } from '../spool/format.js'
import {
  parseFleetKey, parseFleetSpoolValue, parseFleetWeightValue, formatFleetSpoolValue, formatFleetWeightValue,
  type FleetKeyName
} from './keys.js'
import type { WeightEntry } from '../spool/weight.js'
import { FleetWarnings, type FleetWarn } from './warnings.js'

/**
 * Most keys the view holds (each costs at most about 3 KB: a reason is cut at 1024 characters).
 * Past it the view holds no partial state: every lookup answers down and every weight lookup
 * fails until the host's keys are back under it (docs/fleet.md "Limits").
 */
export const MAX_FLEET_ENTRIES = 10000

/** What `/status`, the metrics and the tools show about the view. */
export interface FleetStatus {
  /** Whether the watch on etcd is established now. */
  connected: boolean
  /** The etcd revision the view reflects; null before the first sync. */
  revision: number | null
  /** Unix seconds when the view was last known current (now while connected); null: never synced. */
  syncedAt: number | null
  /** Seconds since then (0 while connected); null: never synced. */
  lastSyncAgeSeconds: number | null
  /** Keys held (spool entries and weights, fleet-wide and this host's). */
  entries: number
  /** This host's name in `<prefix>hosts/<host>/`. */
  host: string
  prefix: string
  /**
   * Null within the limits; else the keys this host's view should hold (at least), over
   * {@link MAX_FLEET_ENTRIES} or past the read's byte bound: every service answers down.
   */
  overLimit: { keys: number, limit: number } | null
}

/** What the spool consults, synchronously, at each step of a lookup. */
export interface FleetView {
  /**
   * `local` (up, or a `drain` entry: a local `down`/`maint` ends the step before this is asked)
   * combined with this host's and the fleet-wide entry for the same spool name.
   */
  merge: (local: SpoolState, file: string) => SpoolState
  /**
   * The lowest of this host's and the fleet-wide weight for a spool name, or null.
   *
   * @throws HC_ERR_SPOOL_WEIGHT when a weight value cannot be parsed (fail closed).
   */
  weight: (file: string) => WeightEntry | null
  /** Every spool entry held (expired ones too): this host's, then the fleet-wide ones, each by name. */
  entries: () => SpoolEntry[]
  /** Every weight held that parses: this host's, then the fleet-wide ones, each by name. */
  weightEntries: () => WeightEntry[]
  status: () => FleetStatus
}

/** A key/value as read from etcd. */
export interface FleetKv {
  key: string
  /** Empty when the value was too large to keep (then `valueBytes` says its size). */
  value: Uint8Array
  modRevision: number
  /** True when this put created the key (etcd's `version` 1). */
  created?: boolean
  /** The value's size when `value` was not kept. */
  valueBytes?: number
}

export type { FleetWarn }

type WeightSlot = WeightEntry | { bad: string }
interface Held { name: FleetKeyName, modRevision: number, text: string }

/** The in-memory view of one host's fleet keys. */
export class FleetMirror implements FleetView {
  readonly prefix: string
  readonly host: string
  private readonly nowSeconds: () => number
  private readonly held = new Map<string, Held>()
  private readonly spool = { host: new Map<string, SpoolState>(), fleet: new Map<string, SpoolState>() }
  private readonly weights = { host: new Map<string, WeightSlot>(), fleet: new Map<string, WeightSlot>() }
  /** Keys under the watched prefixes that the view does not hold (past its limits). */
  private unheld = 0
  private revision: number | null = null
  /** Changes at or below this revision are already in the view (from the last range read). */
  private syncRevision = 0
  private syncedAt: number | null = null
  private connected = false
  private readonly warnings: FleetWarnings

  constructor (opts: { prefix: string, host: string, nowSeconds?: () => number, warn?: FleetWarn }) {
    this.prefix = opts.prefix
    this.host = opts.host
    this.nowSeconds = opts.nowSeconds ?? (() => Date.now() / 1000)
    this.warnings = new FleetWarnings(opts.warn ?? (() => {}), this.nowSeconds, 4 * MAX_FLEET_ENTRIES)
  }

  merge (local: SpoolState, file: string): SpoolState {
    if (this.unheld > 0) return this.overLimitDown(file)
    const host = this.live(this.spool.host.get(file))
    if (host !== undefined && endsLookup(host.entry.state)) return host
    const fleet = this.live(this.spool.fleet.get(file))
    if (fleet !== undefined && endsLookup(fleet.entry.state)) return fleet
    return local.up ? host ?? fleet ?? local : local
  }

  /** The state, or undefined when absent or expired. */
  private live (state: SpoolState | undefined): (SpoolState & { up: false }) | undefined {
    if (state === undefined || state.up) return undefined
    const { expiration } = state.entry
    return expiration !== null && expiration < this.nowSeconds() ? undefined : state
  }

  weight (file: string): WeightEntry | null {
    if (this.unheld > 0) throw new HC_ERR_SPOOL_WEIGHT(`fleet view over its limit (${this.overLimitText()}): weights unknown`)
    let lowest: WeightEntry | null = null
    for (const slot of [this.weights.host.get(file), this.weights.fleet.get(file)]) {
      if (slot === undefined) continue
      if ('bad' in slot) throw new HC_ERR_SPOOL_WEIGHT(slot.bad)
      if (lowest === null || slot.weight < lowest.weight) lowest = slot
    }
    return lowest
  }

  entries (): SpoolEntry[] {
    const out: SpoolEntry[] = []
    for (const map of [this.spool.host, this.spool.fleet]) {
      const part: SpoolEntry[] = []
      for (const state of map.values()) if (!state.up) part.push(state.entry)
      out.push(...part.sort((a, b) => a.file.localeCompare(b.file)))
    }
    return out
  }

  weightEntries (): WeightEntry[] {
    const out: WeightEntry[] = []
    for (const map of [this.weights.host, this.weights.fleet]) {
      const part: WeightEntry[] = []
      for (const slot of map.values()) if (!('bad' in slot)) part.push(slot)
      out.push(...part.sort((a, b) => a.file.localeCompare(b.file)))
    }
    return out
  }

  status (): FleetStatus {
    const now = this.nowSeconds()
    const syncedAt = this.connected ? now : this.syncedAt
    return {
      connected: this.connected,
      revision: this.revision,
      syncedAt,
      lastSyncAgeSeconds: syncedAt === null ? null : Math.max(0, now - syncedAt),
      entries: this.held.size,
      host: this.host,
      prefix: this.prefix,
      overLimit: this.unheld > 0 ? { keys: this.held.size + this.unheld, limit: MAX_FLEET_ENTRIES } : null
    }
  }

  private overLimitText (): string {
    return `${this.held.size + this.unheld} keys for host ${this.host} under ${this.prefix}, over the ${MAX_FLEET_ENTRIES} it holds`
  }

  /** The fail-closed answer past the limits: down, saying why (never an entry dropped silently). */
  private overLimitDown (file: string): SpoolState {
    const key = parseSpoolFileName(file) ?? { service: file }
    const reason = `fleet view over its limit (${this.overLimitText()}): down until fewer (docs/fleet.md "Limits")`
    return { up: false, entry: { key, file, reason, expiration: null, creation: null, state: 'down', source: 'fleet', setBy: null } }
  }

  /**
   * Replaces the whole view with a range read at `revision` (the keys of every watched prefix).
   * Changes at or below `revision` that arrive later (a watch replaying them) are ignored.
   *
   * `total`: the keys under the prefixes at `revision`, when the read stopped at a bound (more
   * than it returned): the view then fails closed until they are back under the limits.
   *
   * @returns whether any key was added, removed or rewritten (a reconnect usually reads back
   *   what the view already held).
   */
  replace (kvs: Iterable<FleetKv>, revision: number, syncedAt: number | null = this.nowSeconds(), total = 0): boolean {
    const before = new Map([...this.held].map(([key, held]) => [key, held.modRevision]))
    this.held.clear()
    for (const map of [this.spool.host, this.spool.fleet, this.weights.host, this.weights.fleet]) map.clear()
    this.syncRevision = revision
    this.revision = revision
    this.syncedAt = syncedAt
    this.unheld = 0
    for (const kv of kvs) this.put(kv)
    this.unheld = Math.max(this.unheld, total - this.held.size)
    return before.size !== this.held.size || [...this.held].some(([key, held]) => before.get(key) !== held.modRevision)
  }

  /**
   * Applies one watched change; a change already reflected by the last range read is skipped.
   *
   * @returns true when the view needs a full read again: it was over its limits and a held key
   *   went away, so keys it could not hold may fit now.
   */
  apply (type: 'put' | 'delete', kv: FleetKv): boolean {
    if (kv.modRevision <= this.syncRevision) return false
    if (this.revision === null || kv.modRevision > this.revision) this.revision = kv.modRevision
    if (type === 'put') {
      this.put(kv)
      return false
    }
    if (this.held.has(kv.key)) {
      this.remove(kv.key)
      return this.unheld > 0
    }
    // A key the view never held (over the limits, or not a fleet key): one fewer unheld, at most.
    if (this.unheld > 0 && parseFleetKey(this.prefix, kv.key) !== null) this.unheld--
    return false
  }

  /** Records the connection state; while connected the view counts as current. */
  setConnected (connected: boolean): void {
    if (this.connected && !connected) this.syncedAt = this.nowSeconds()
    this.connected = connected
  }

  /** The held keys with their values re-written in canonical form, and the count of keys not held, for the snapshot file. */
  dump (): { revision: number | null, syncedAt: number | null, kvs: Array<[string, number, string]>, unheld: number } {
    const kvs: Array<[string, number, string]> = []
    for (const [key, held] of this.held) kvs.push([key, held.modRevision, held.text])
    return { revision: this.revision, syncedAt: this.status().syncedAt, kvs, unheld: this.unheld }
  }

  private put (kv: FleetKv): void {
    const name = parseFleetKey(this.prefix, kv.key)
    if (name === null || (name.scope === 'host' && name.host !== this.host)) {
      this.warnings.warn(kv, 'fleet key ignored: not <prefix>(hosts/<host>/)spool|weight/<spool name>')
      return
    }
    if (!this.held.has(kv.key) && this.held.size >= MAX_FLEET_ENTRIES) {
      // Counted once: at its creation, or in the read's total (a rewrite was counted then).
      if (kv.created !== false) this.unheld++
      return
    }
    const source = name.scope
    let text: string
    if (name.kind === 'spool') {
      const { value, problem } = parseFleetSpoolValue(kv.value, kv.valueBytes)
      if (problem !== null) this.warnings.warn(kv, `fleet value unreadable: ${problem}`)
      const entry: SpoolEntry = { key: name.key, file: name.file, reason: value.reason, expiration: value.expiration, creation: value.creation, state: value.state, source, setBy: value.setBy }
      this.spool[source].set(name.file, Object.freeze({ up: false, entry: Object.freeze(entry) }))
      text = formatFleetSpoolValue(value, value.setBy ?? '')
    } else {
      const { value, problem } = parseFleetWeightValue(kv.value, kv.valueBytes)
      if (value === null) {
        const bad = `invalid fleet weight ${kv.key}: ${problem ?? 'unreadable'}`
        this.warnings.warn(kv, bad)
        this.weights[source].set(name.file, { bad })
        text = JSON.stringify({ weight: null, problem })
      } else {
        this.weights[source].set(name.file, { key: name.key, file: name.file, weight: value.weight, creation: value.creation, source, setBy: value.setBy })
        text = formatFleetWeightValue(value.weight, value.creation, value.setBy ?? '')
      }
    }
    this.held.set(kv.key, { name, modRevision: kv.modRevision, text })
  }

  private remove (key: string): void {
    const held = this.held.get(key)
    if (held === undefined) return
    this.held.delete(key)
    const { scope, kind, file } = held.name
    if (kind === 'spool') this.spool[scope].delete(file)
    else this.weights[scope].delete(file)
  }
}
