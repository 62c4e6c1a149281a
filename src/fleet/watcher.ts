/**
 * (ours) The fleet watcher: keeps a {@link FleetMirror} equal to this host's keys in etcd.
 *
 * One cycle: read every watched prefix at one revision R (`rangePrefixes`), replace the view,
 * watch the same prefixes from R + 1 (etcd replays anything that changed in between, so no
 * change is missed), and apply each change as it comes. When the watch breaks (the member died,
 * lost its leader, or a keepalive went unanswered) or a read fails, the cycle ends: the view
 * keeps its last state, and a new cycle starts after a back-off (250 ms doubling to
 * `fleet_reconnect_max_seconds`, default 5 s, with jitter so a fleet does not reconnect in
 * step), on a fresh client that picks any endpoint.
 * A resync after a reconnect reads everything again, so a watch history etcd has compacted
 * meanwhile loses nothing either.
 *
 * Logged once each: the loss of etcd (or its absence at start) at warn, the recovery at info.
 * The view is written to the spool root after each change (`snapshot.ts`) and read back at
 * start, so a restart while etcd is away keeps the fleet's downs.
 *
 * Folder fleet/ (this is its main file): operator intent shared through etcd. The watcher
 * (here), the etcd client (`client.ts`), key and value formats (`keys.ts`), the in-memory view
 * the spool consults (`view.ts`), its snapshot on disk (`snapshot.ts`) and the tools' writes
 * (`store.ts`). Its config keys are in `config/fleet.ts` and its gauges in
 * `ops/fleet-metrics.ts`, where the layout puts config and metrics. May import `spool/`,
 * `ops/`, `config/` and the top-level leaves; the spool reaches it by `import type` only (the
 * view is handed in), so a fleet-less hacheck never loads it. Never imports Fastify.
 */
import type { Etcd3, Watcher } from 'etcd3'
import { fleetSettings, type FleetConfig, type FleetSettings } from '../config/fleet.js'
import { describeEtcdError, openEtcd, rangePrefixes, readFleetCredentials, toFleetKv } from './client.js'
import { watchPrefixes } from './keys.js'
import { loadSnapshot, saveSnapshot } from './snapshot.js'
import { FleetMirror, type FleetStatus } from './view.js'

/** What the watcher logs to; a pino logger fits. */
export interface FleetLog {
  warn: (fields: Record<string, unknown>, message: string) => void
  info: (fields: Record<string, unknown>, message: string) => void
  debug: (fields: Record<string, unknown>, message: string) => void
}

/** Back-off between cycles, milliseconds. */
export interface FleetBackoff {
  initialMs: number
  maxMs: number
}

/** The first back-off; it doubles up to `fleet_reconnect_max_seconds`. */
export const FIRST_BACKOFF_MS = 250

/** Options for {@link startFleet}. */
export interface FleetOptions {
  config: FleetConfig
  log: FleetLog
  /** Spool root, where the snapshot lives; none: no snapshot (the bench's simulated hosts). */
  spoolRoot?: string
  /** Clock in unix seconds. */
  now?: () => number
  /** Default: {@link FIRST_BACKOFF_MS} doubling to `fleet_reconnect_max_seconds`. */
  backoff?: FleetBackoff
  /** Called after each change applied from the watch (the bench times propagation with it). */
  onChange?: (type: 'put' | 'delete', key: string) => void
  /** Extra gRPC channel options for the client. */
  grpcOptions?: Record<string, string | number>
}

/** A running fleet watcher. */
export interface Fleet {
  readonly view: FleetMirror
  readonly settings: FleetSettings
  /**
   * Resolves true once the view has been read from etcd and is watched; false when the first
   * attempt failed, or `timeoutMs` passed first.
   */
  firstSync: (timeoutMs: number) => Promise<boolean>
  status: () => FleetStatus
  /** Stops watching, writes the snapshot, closes the client. */
  close: () => Promise<void>
}

/**
 * How long the server waits at start for the first read before it listens: with etcd up it
 * takes milliseconds, and a fleet down is then answered from the first check on; with etcd
 * refusing connections the wait ends at the first failure; only a silent etcd costs this.
 */
export const FIRST_SYNC_WAIT_MS = 2000

const SNAPSHOT_INTERVAL_MS = 1000
const CANCEL_TIMEOUT_MS = 1000

/** Resolves after `ms`, or at once when `signal` aborts; `unref`: does not keep the process up. */
async function delay (ms: number, signal: AbortSignal, unref = false): Promise<void> {
  await new Promise<void>((resolve) => {
    if (signal.aborted) { resolve(); return }
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    if (unref) timer.unref()
    signal.addEventListener('abort', done, { once: true })
  })
}

async function within<T> (work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([work, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`${what}: no answer within ${ms} ms`)) }, ms)
    })])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Checks the fleet keys of a config as {@link startFleet} would (settings across keys, TLS
 * files readable) without connecting; nothing to check without a fleet.
 *
 * @throws HC_ERR_CONFIG naming the key.
 */
export async function checkFleetConfig (config: FleetConfig): Promise<void> {
  const settings = fleetSettings(config)
  if (settings !== null) await readFleetCredentials(settings)
}

/**
 * Starts watching. Returns at once (after reading the TLS files and the snapshot); the first
 * sync happens in the background (see {@link Fleet.firstSync}).
 *
 * @throws HC_ERR_CONFIG for fleet settings that do not fit together or an unreadable TLS file;
 *   an Error when the config has no fleet.
 */
export async function startFleet (opts: FleetOptions): Promise<Fleet> {
  const maybe = fleetSettings(opts.config)
  if (maybe === null) throw new Error('startFleet: fleet_etcd_endpoints is not set')
  const settings: FleetSettings = maybe
  for (const warning of settings.warnings) opts.log.warn({}, warning)
  const credentials = await readFleetCredentials(settings)
  const now = opts.now ?? (() => Date.now() / 1000)
  const backoff = opts.backoff ?? { initialMs: FIRST_BACKOFF_MS, maxMs: opts.config.fleet_reconnect_max_seconds * 1000 }
  const view = new FleetMirror({ prefix: settings.prefix, host: settings.host, now, warn: (fields, msg) => { opts.log.warn(fields, msg) } })
  const prefixes = watchPrefixes(settings.prefix, settings.host)
  const stop = new AbortController()
  const { spoolRoot } = opts

  if (spoolRoot !== undefined) {
    const snapshot = await loadSnapshot(spoolRoot, settings.prefix, settings.host).catch(() => null)
    if (snapshot !== null) {
      view.replace(snapshot.kvs, snapshot.revision, snapshot.syncedAt)
      opts.log.info({ revision: snapshot.revision, entries: view.status().entries }, 'fleet: last fleet state read from the spool root\'s @fleet snapshot')
    }
  }

  // The snapshot: written at once after a change (a crash a moment later keeps it), then at
  // most once a second while changes keep coming; a failure is warned about once.
  let dirty = false
  let flushing: Promise<void> | undefined
  let snapshotWarned = false
  const writeSnapshot = async (): Promise<void> => {
    if (spoolRoot === undefined) return
    try {
      await saveSnapshot(spoolRoot, { prefix: settings.prefix, host: settings.host, ...view.dump() })
      snapshotWarned = false
    } catch (err) {
      if (!snapshotWarned) opts.log.warn({ err: (err as Error).message }, 'fleet: cannot write the @fleet snapshot; a restart while etcd is away would forget the fleet state')
      snapshotWarned = true
    }
  }
  const flush = async (): Promise<void> => {
    while (dirty) {
      dirty = false
      await writeSnapshot()
      await delay(SNAPSHOT_INTERVAL_MS, stop.signal, true)
    }
    flushing = undefined
  }
  const changed = (): void => {
    if (spoolRoot === undefined) return
    dirty = true
    flushing ??= flush()
  }

  let firstAttempt: (ok: boolean) => void = () => {}
  const firstSynced = new Promise<boolean>((resolve) => { firstAttempt = resolve })
  let lostSince: number | null = null // set while etcd is away, for the recovery line
  let everConnected = false

  /** One cycle: range, replace, watch; resolves with why it ended. */
  async function cycle (client: Etcd3, watchers: Watcher[]): Promise<unknown> {
    const { revision, kvs } = await rangePrefixes(client, prefixes)
    // A reconnect that reads back what the view held writes no snapshot, so the next real
    // change is written at once rather than queued behind this one.
    if (view.replace(kvs, revision)) changed()
    let ended: (reason: unknown) => void = () => {}
    const end = new Promise<unknown>((resolve) => { ended = resolve })
    for (const prefix of prefixes) {
      const watcher = client.watch().prefix(prefix).startRevision(String(revision + 1)).watcher()
      watchers.push(watcher)
      watcher.on('put', (kv) => { const k = toFleetKv(kv); view.apply('put', k); changed(); opts.onChange?.('put', k.key) })
      watcher.on('delete', (kv) => { const k = toFleetKv(kv); view.apply('delete', k); changed(); opts.onChange?.('delete', k.key) })
      watcher.on('disconnected', (err: Error) => { ended(err) })
      watcher.on('error', (err: Error) => { ended(err) })
    }
    const connected = Promise.all(watchers.map(async (w) => await new Promise<void>((resolve, reject) => {
      w.once('connected', () => { resolve() })
      w.once('disconnected', reject)
      w.once('error', reject)
    })))
    await within(connected, 5000, 'watch')
    view.setConnected(true)
    firstAttempt(true)
    if (lostSince !== null || !everConnected) {
      opts.log.info({ revision, entries: view.status().entries, ...(lostSince === null ? {} : { away_seconds: Math.round((now() - lostSince) * 10) / 10 }) },
        everConnected ? 'fleet: etcd is back; the fleet view is current again' : 'fleet: watching etcd; the fleet view is current')
    }
    everConnected = true
    lostSince = null
    const stopped = new Promise<unknown>((resolve) => { stop.signal.addEventListener('abort', () => { resolve(null) }, { once: true }) })
    return await Promise.race([end, stopped])
  }

  function lost (err: unknown): void {
    view.setConnected(false)
    firstAttempt(false)
    if (stop.signal.aborted) return
    if (lostSince === null) {
      lostSince = now()
      const st = view.status()
      opts.log.warn({ error: describeEtcdError(settings, err), revision: st.revision, entries: st.entries },
        everConnected
          ? 'fleet: lost etcd; serving the last fleet state and the local spool, reconnecting with back-off'
          : 'fleet: cannot reach etcd; serving the local spool (and the last fleet state, if any), retrying with back-off')
    } else {
      opts.log.debug({ error: describeEtcdError(settings, err) }, 'fleet: etcd still unreachable')
    }
  }

  async function run (): Promise<void> {
    let attempt = 0
    while (!stop.signal.aborted) {
      const watchers: Watcher[] = []
      let client: Etcd3 | undefined
      let reason: unknown
      try {
        client = await openEtcd(settings, { credentials, grpcOptions: opts.grpcOptions })
        reason = await cycle(client, watchers)
        attempt = 0
      } catch (err) {
        reason = err
      }
      lost(reason)
      await within(Promise.all(watchers.map(async (w) => { await w.cancel() })), CANCEL_TIMEOUT_MS, 'cancel').catch(() => {})
      client?.close()
      if (stop.signal.aborted) break
      const ms = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt++, 20))
      await delay(ms / 2 + Math.random() * ms / 2, stop.signal)
    }
  }
  const running = run().catch((err: unknown) => { opts.log.warn({ err: (err as Error).message }, 'fleet: watcher stopped') })

  return {
    view,
    settings,
    status: () => view.status(),
    firstSync: async (timeoutMs) => await within(firstSynced, timeoutMs, 'first sync').catch(() => false),
    close: async () => {
      stop.abort()
      await within(running, 3000, 'fleet watcher stop').catch(() => {})
      await flushing
    }
  }
}
