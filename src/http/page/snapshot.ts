/**
 * (ours) What the status page shows, as one JSON-ready object: the services checked recently
 * (as `/recent`) with their last answer, the spool files and weights that apply to them and
 * their probe latency; the last state changes; this host's counters.
 *
 * Built from the live state on each call (the page's stream builds it once a second, shared by
 * every open page). Bounded whatever clients did: at most {@link MAX_ROWS} services (those the
 * spool names first, then the most recently asked), at most {@link MAX_SPOOL_ENTRIES} spool
 * files. Every string in it is data for the page to render as text, never markup.
 *
 * Imports no Fastify.
 */
import { hostname } from 'node:os'
import type { CacheStats } from '../../checks/cache.js'
import type { HealthService } from '../../checks/health.js'
import type { LatencyHistory, LatencySeries } from '../../checks/latency-history.js'
import type { SeenEntry, ServiceLog } from '../../checks/service-log.js'
import type { RecentTransition, TransitionLog } from '../../checks/transition-log.js'
import type { Config } from '../../config/index.js'
import type { LoadSampler } from '../../ops/load-weight.js'
import { ALL, endsLookup, type Spool, type SpoolEntry, type SpoolStateName } from '../../spool/spool.js'
import { SpoolWeights, type WeightEntry } from '../../spool/weight.js'
import { VERSION } from '../../version.js'

/** Most service rows in one snapshot. */
export const MAX_ROWS = 300
/** Most spool files read into one snapshot. */
export const MAX_SPOOL_ENTRIES = 1000
/** Services asked within this many seconds are listed (`/recent`'s default threshold). */
export const RECENT_SECONDS = 600

/** Where a spool entry comes from: this host's spool directory, the fleet (etcd), or a host-wide fleet entry. */
export type SpoolSource = 'local' | 'fleet' | 'host'

/** A spool file as the page shows it. Times are unix seconds. */
export interface PageSpoolEntry {
  file: string
  state: SpoolStateName
  reason: string
  creation: number | null
  expiration: number | null
  source: SpoolSource | string
}

/** One row of the services table. */
export interface ServiceRow {
  name: string
  /** What the spool says for the whole row: the strongest entry, as the checks read it. */
  state: 'up' | SpoolStateName
  /** The last answer given for the service (`/recent`'s entry), or null when not asked recently. */
  last: SeenEntry | null
  /** Every spool file that applies (`all`, the service, its ports), in lookup order. */
  spool: PageSpoolEntry[]
  /** The lowest weight that applies, percent, with the file that sets it; null when none is set. */
  weight: { percent: number, file: string } | null
  /**
   * (ours) The load weight that applies (docs/operator-guide.md "Load weights"): percent (null
   * when no pressure source of its scope is usable), the scope (`all`: the host's; else the
   * service's cgroup) and the pressure counted; null when load weights are off.
   */
  load: RowLoad | null
  latency: LatencySeries | null
}

/** A load weight as the page shows it. */
export interface RowLoad {
  percent: number | null
  scope: string
  pressure: number | null
}

/** This host's part of the page. */
export interface HostInfo {
  hostname: string
  version: string
  pid: number
  uptime: number
  spool_root: string
  cache: CacheStats
  outbound_request_queue_size: number
  outbound_in_flight: number
  /** Reading the spool or its weights failed: the message (the table then lacks that part). */
  spool_error?: string
  /** The fleet's connection state, when a fleet is configured (shape owned by the fleet backend). */
  fleet?: unknown
  /** (ours) Load weights with their inputs, as `/status` shows them, when they are on. */
  load_weight?: unknown
}

/** The whole page's data. */
export interface PageSnapshot {
  /** Unix seconds when it was built. */
  generated: number
  host: HostInfo
  /** Whether the page offers spool actions, and whether they need the bearer token. */
  actions: { enabled: boolean, token_required: boolean }
  services: ServiceRow[]
  /** The `all` spool file and weight: what applies to every service of this host. */
  all: { spool: PageSpoolEntry[], weight: { percent: number, file: string } | null, load: RowLoad | null }
  /** Services left out past {@link MAX_ROWS}. */
  services_omitted: number
  /** The last state changes, newest first. */
  transitions: RecentTransition[]
}

/** What a snapshot is built from: the server's shared state. */
export interface PageSources {
  config: Config
  spool: Spool
  health: HealthService
  serviceLog: ServiceLog
  transitions: TransitionLog
  latency: LatencyHistory
  /** Process start, unix seconds. */
  startTime: number
  /** Clock, unix seconds. */
  nowSeconds: () => number
  /** The fleet's connection state, when a fleet backend exists; undefined leaves it out. */
  fleet?: (() => unknown) | undefined
  /** (ours) The load-weight sampler, when load weights are on. */
  load?: Pick<LoadSampler, 'scopeOf'> | undefined
  /** (ours) Load weights as `/status` shows them, when they are on. */
  loadWeight?: (() => unknown) | undefined
}

function pageEntry (entry: SpoolEntry): PageSpoolEntry {
  // `source` is set by the fleet backend where it exists; a plain spool file is local.
  const source = (entry as SpoolEntry & { source?: unknown }).source
  return {
    file: entry.file,
    state: entry.state,
    reason: entry.reason,
    creation: entry.creation,
    expiration: entry.expiration,
    source: typeof source === 'string' ? source : 'local'
  }
}

/**
 * The row's state as a check of the whole service reads it: `all`, then the service, then its
 * ports, by the spool's lookup rule (`endsLookup`: the first down or maint, else a drain).
 */
function rowState (entries: readonly PageSpoolEntry[]): ServiceRow['state'] {
  let state: ServiceRow['state'] = 'up'
  for (const e of entries) {
    if (endsLookup(e.state)) return e.state
    state = 'drain'
  }
  return state
}

async function readSpool (spool: Spool): Promise<{ entries: SpoolEntry[], weights: WeightEntry[], error?: string }> {
  const errors: string[] = []
  const local = await spool.listDown().catch((err: Error) => { errors.push(err.message); return [] })
  const localWeights = await new SpoolWeights(spool).list().catch((err: Error) => { errors.push(err.message); return [] })
  // (ours) The fleet's entries after the local ones, in lookup order (docs/fleet.md "Precedence between sources"); expired ones count as absent.
  const now = spool.nowSeconds()
  const entries = [...local, ...(spool.fleet?.entries() ?? []).filter((e) => e.expiration === null || e.expiration >= now)]
  const weights = [...localWeights, ...(spool.fleet?.weightEntries() ?? [])]
  // `all` first, so the bound never drops the file that takes the whole host down.
  const ordered = [...entries.filter((e) => e.key.service === ALL), ...entries.filter((e) => e.key.service !== ALL)]
  return { entries: ordered.slice(0, MAX_SPOOL_ENTRIES), weights, ...(errors.length > 0 ? { error: errors.join('; ') } : {}) }
}

/** The lowest of some weights (any level can lower the weight, see `spool/weight.ts`), or null. */
function lowestWeight (weights: readonly WeightEntry[]): ServiceRow['weight'] {
  let lowest: ServiceRow['weight'] = null
  for (const w of weights) {
    if (lowest === null || w.weight < lowest.percent) lowest = { percent: w.weight, file: w.file }
  }
  return lowest
}

function groupBy<T> (items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>()
  for (const item of items) {
    const k = key(item)
    const list = map.get(k)
    if (list === undefined) map.set(k, [item])
    else list.push(item)
  }
  return map
}

function rowLoad (load: PageSources['load'], service: string): RowLoad | null {
  if (load === undefined) return null
  const scope = load.scopeOf(service)
  return { percent: scope.weight, scope: scope.service, pressure: scope.pressure }
}

/** Builds the page's data from the live state. Never throws for a spool it cannot read: it reports it in `host.spool_error`. */
export async function buildSnapshot (src: PageSources): Promise<PageSnapshot> {
  const now = src.nowSeconds()
  const recent = src.serviceLog.recent(RECENT_SECONDS)
  const { entries, weights, error } = await readSpool(src.spool)
  const spoolBy = groupBy(entries, (e) => e.key.service)
  const weightBy = groupBy(weights, (w) => w.key.service)
  const allEntries = (spoolBy.get(ALL) ?? []).map(pageEntry)
  const allWeights = weightBy.get(ALL) ?? []

  // Services the spool names come first (operator intent must show), then the most recently asked.
  const seen = new Map(recent)
  const named = new Set([...spoolBy.keys(), ...weightBy.keys()])
  named.delete(ALL)
  const asked = recent.filter(([name]) => !named.has(name)).sort((a, b) => b[1].ts - a[1].ts).map(([name]) => name)
  const candidates = [...[...named].sort(), ...asked]
  const names = candidates.slice(0, MAX_ROWS)

  const services = names.map((name): ServiceRow => {
    const spool = [...allEntries, ...(spoolBy.get(name) ?? []).map(pageEntry)]
    const weight = lowestWeight([...allWeights, ...(weightBy.get(name) ?? [])])
    return { name, state: rowState(spool), last: seen.get(name) ?? null, spool, weight, load: rowLoad(src.load, name), latency: src.latency.get(name) ?? null }
  })

  const stats = src.health.stats()
  const host: HostInfo = {
    hostname: hostname(),
    version: VERSION,
    pid: process.pid,
    uptime: Math.round((now - src.startTime) * 1000) / 1000,
    spool_root: src.spool.root,
    cache: stats.cache,
    outbound_request_queue_size: stats.outbound_request_queue_size,
    outbound_in_flight: stats.outbound_in_flight
  }
  if (error !== undefined) host.spool_error = error
  const fleet = src.fleet?.()
  if (fleet !== undefined) host.fleet = fleet
  const loadWeight = src.loadWeight?.()
  if (loadWeight !== undefined) host.load_weight = loadWeight
  return {
    generated: now,
    host,
    actions: { enabled: src.config.allow_remote_spool_changes, token_required: src.config.remote_spool_token !== null },
    services,
    all: { spool: allEntries, weight: lowestWeight(allWeights), load: rowLoad(src.load, ALL) },
    services_omitted: candidates.length - names.length,
    transitions: src.transitions.recent()
  }
}
