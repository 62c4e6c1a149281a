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
import { HC_ERR_CONFIG } from '../errors.js'
import type { Config } from '../config/index.js'
import type { FleetSettings } from '../config/fleet.js'
import { describeEtcdError, openEtcd, rangePrefixes, readFleetCredentials, toFleetKv } from './client.js'
import { watchPrefixes } from './keys.js'
import { loadSnapshot, SnapshotWriter } from './snapshot.js'
import { FleetMirror, MAX_FLEET_ENTRIES, type FleetKv, type FleetStatus } from './view.js'
import { delay, within } from './wait.js'

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

/** Options for {@link FleetWatcher.start}. */
export interface FleetOptions {
  /** The fleet settings (`config.fleet`, non-null) and the back-off bound. */
  config: Pick<Config, 'fleet' | 'fleet_reconnect_max_seconds'>
  log: FleetLog
  /** Spool root, where the snapshot lives; none: no snapshot (the bench's simulated hosts). */
  spoolRoot?: string
  /** Clock in unix seconds. */
  nowSeconds?: () => number
  /** Default: {@link FIRST_BACKOFF_MS} doubling to `fleet_reconnect_max_seconds`. */
  backoff?: FleetBackoff
  /** Called after each change applied from the watch (the bench times propagation with it). */
  onChange?: (type: 'put' | 'delete', key: string) => void
  /** Extra gRPC channel options for the client. */
  grpcOptions?: Record<string, string | number>
}

/**
 * How long the server waits at start for the first read before it listens: with etcd up it
 * takes milliseconds, and a fleet down is then answered from the first check on; with etcd
 * refusing connections the wait ends at the first failure; only a silent etcd costs this.
 */
export const FIRST_SYNC_WAIT_MS = 2000

const CANCEL_TIMEOUT_MS = 1000
const STOP_TIMEOUT_MS = 3000
const WATCH_CONNECT_TIMEOUT_MS = 5000
/** Why a cycle ended when the view asks for a full read (keys it could not hold may fit now). */
const RESYNC = Symbol('resync')

/**
 * Checks what {@link FleetWatcher.start} reads before it connects (the TLS files) without
 * connecting; nothing to check without a fleet.
 *
 * @throws HC_ERR_CONFIG naming the key and file that cannot be read.
 */
export async function checkFleetFiles (config: Pick<Config, 'fleet'>): Promise<void> {
  if (config.fleet !== null) await readFleetCredentials(config.fleet)
}

/**
 * A running fleet watcher. State: the view; whether the first attempt is over; since when
 * etcd has been away (for the recovery line); whether it was ever reached; the loop's stop
 * signal. {@link FleetWatcher.stop} ends the loop, writes the snapshot and closes the client.
 */
export class FleetWatcher {
  readonly view: FleetMirror
  readonly settings: FleetSettings
  private readonly opts: FleetOptions
  private readonly credentials: Awaited<ReturnType<typeof readFleetCredentials>>
  private readonly nowSeconds: () => number
  private readonly backoff: FleetBackoff
  private readonly prefixes: string[]
  private readonly stopping = new AbortController()
  private readonly snapshot: SnapshotWriter | undefined
  private readonly firstAttempt: Promise<boolean>
  private settleFirst: (ok: boolean) => void = () => {}
  /** Unix seconds since etcd has been away; null while connected (or before the first try). */
  private lostSince: number | null = null
  private everConnected = false
  /** Whether the view's being over its limits was logged (once on entering, once on leaving). */
  private overLimitLogged = false
  private resync: (reason: unknown) => void = () => {}
  private running: Promise<void> = Promise.resolve()

  private constructor (opts: FleetOptions, settings: FleetSettings, credentials: FleetWatcher['credentials']) {
    this.opts = opts
    this.settings = settings
    this.credentials = credentials
    this.nowSeconds = opts.nowSeconds ?? (() => Date.now() / 1000)
    this.backoff = opts.backoff ?? { initialMs: FIRST_BACKOFF_MS, maxMs: opts.config.fleet_reconnect_max_seconds * 1000 }
    this.view = new FleetMirror({ prefix: settings.prefix, host: settings.host, nowSeconds: this.nowSeconds, warn: (fields, msg) => { opts.log.warn(fields, msg) } })
    this.prefixes = watchPrefixes(settings.prefix, settings.host)
    this.firstAttempt = new Promise<boolean>((resolve) => { this.settleFirst = resolve })
    this.snapshot = opts.spoolRoot === undefined
      ? undefined
      : new SnapshotWriter({ spoolRoot: opts.spoolRoot, data: () => ({ prefix: settings.prefix, host: settings.host, ...this.view.dump() }), log: opts.log })
  }

  /**
   * Starts watching. Returns at once (after reading the TLS files and the snapshot); the first
   * sync happens in the background (see {@link FleetWatcher.firstSync}).
   *
   * @throws HC_ERR_CONFIG for an unreadable TLS file; HC_ERR_CONFIG when the config has no fleet.
   */
  static async start (opts: FleetOptions): Promise<FleetWatcher> {
    const settings = opts.config.fleet
    if (settings === null) throw new HC_ERR_CONFIG('config error: fleet_etcd_endpoints is not set, so there is no fleet to watch')
    for (const warning of settings.warnings) opts.log.warn({}, warning)
    const watcher = new FleetWatcher(opts, settings, await readFleetCredentials(settings))
    if (opts.spoolRoot !== undefined) {
      const snapshot = await loadSnapshot(opts.spoolRoot, settings.prefix, settings.host).catch(() => null)
      if (snapshot !== null) {
        watcher.view.replace(snapshot.kvs, snapshot.revision, snapshot.syncedAt, snapshot.unheld > 0 ? snapshot.kvs.length + snapshot.unheld : 0)
        opts.log.info({ revision: snapshot.revision, entries: watcher.view.status().entries }, 'fleet: last fleet state read from the spool root\'s @fleet snapshot')
      }
    }
    watcher.running = watcher.run().catch((err: unknown) => { opts.log.warn({ err: (err as Error).message }, 'fleet: watcher stopped') })
    return watcher
  }

  /**
   * Resolves true once the view has been read from etcd and is watched; false when the first
   * attempt failed, or `timeoutMs` passed first.
   */
  async firstSync (timeoutMs: number): Promise<boolean> {
    return await within(this.firstAttempt, timeoutMs, 'first sync').catch(() => false)
  }

  /** The view's state for `/status`, metrics and the tools. */
  status (): FleetStatus {
    return this.view.status()
  }

  /** Stops watching, writes the snapshot, closes the client. */
  async stop (): Promise<void> {
    this.stopping.abort()
    await within(this.running, STOP_TIMEOUT_MS, 'fleet watcher stop').catch(() => {})
    await this.snapshot?.stop()
  }

  /** Cycles until stopped, with a jittered back-off between them. */
  private async run (): Promise<void> {
    let attempt = 0
    while (!this.stopping.signal.aborted) {
      const watchers: Watcher[] = []
      let client: Etcd3 | undefined
      let reason: unknown
      try {
        client = await openEtcd(this.settings, { credentials: this.credentials, grpcOptions: this.opts.grpcOptions })
        reason = await this.cycle(client, watchers)
        attempt = 0
      } catch (err) {
        reason = err
      }
      if (reason !== RESYNC) this.lost(reason)
      await within(Promise.all(watchers.map(async (w) => { await w.cancel() })), CANCEL_TIMEOUT_MS, 'cancel').catch(() => {})
      client?.close()
      if (this.stopping.signal.aborted) break
      if (reason === RESYNC) continue
      const ms = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(attempt++, 20))
      await delay(ms / 2 + Math.random() * ms / 2, this.stopping.signal)
    }
  }

  /** One cycle: range, replace, watch; resolves with why it ended. */
  private async cycle (client: Etcd3, watchers: Watcher[]): Promise<unknown> {
    const { revision, kvs, total, complete } = await rangePrefixes(client, this.prefixes, { maxKeys: MAX_FLEET_ENTRIES })
    // A reconnect that reads back what the view held writes no snapshot, so the next real
    // change is written at once rather than queued behind this one.
    if (this.view.replace(kvs, revision, this.nowSeconds(), complete ? 0 : Math.max(total, kvs.length + 1))) this.snapshot?.changed()
    this.noteLimit()
    let ended: (reason: unknown) => void = () => {}
    const end = new Promise<unknown>((resolve) => { ended = resolve })
    this.resync = ended
    for (const prefix of this.prefixes) {
      const watcher = client.watch().prefix(prefix).startRevision(String(revision + 1)).watcher()
      watchers.push(watcher)
      watcher.on('put', (kv) => { this.applied('put', toFleetKv(kv)) })
      watcher.on('delete', (kv) => { this.applied('delete', toFleetKv(kv)) })
      watcher.on('disconnected', (err: Error) => { ended(err) })
      watcher.on('error', (err: Error) => { ended(err) })
    }
    const connected = Promise.all(watchers.map(async (w) => await new Promise<void>((resolve, reject) => {
      w.once('connected', () => { resolve() })
      w.once('disconnected', reject)
      w.once('error', reject)
    })))
    await within(connected, WATCH_CONNECT_TIMEOUT_MS, 'watch')
    this.view.setConnected(true)
    this.settleFirst(true)
    if (this.lostSince !== null || !this.everConnected) {
      const away = this.lostSince === null ? {} : { away_seconds: Math.round((this.nowSeconds() - this.lostSince) * 10) / 10 }
      this.opts.log.info({ revision, entries: this.view.status().entries, ...away },
        this.everConnected ? 'fleet: etcd is back; the fleet view is current again' : 'fleet: watching etcd; the fleet view is current')
    }
    this.everConnected = true
    this.lostSince = null
    const stopped = new Promise<unknown>((resolve) => { this.stopping.signal.addEventListener('abort', () => { resolve(null) }, { once: true }) })
    return await Promise.race([end, stopped])
  }

  /** Applies one watched change to the view and notes it for the snapshot. */
  private applied (type: 'put' | 'delete', kv: FleetKv): void {
    const again = this.view.apply(type, kv)
    this.snapshot?.changed()
    this.noteLimit()
    this.opts.onChange?.(type, kv.key)
    if (again) this.resync(RESYNC)
  }

  /** One warning when the view goes over its limits (every service then answers down), one line when it is back. */
  private noteLimit (): void {
    const over = this.view.status().overLimit
    if ((over !== null) === this.overLimitLogged) return
    this.overLimitLogged = over !== null
    if (over !== null) {
      this.opts.log.warn({ keys: over.keys, limit: over.limit, prefix: this.settings.prefix, host: this.settings.host },
        `fleet: ${over.keys} keys for this host, over the ${over.limit} the view holds: every service answers down until there are fewer (docs/fleet.md "Limits")`)
    } else {
      this.opts.log.info({ entries: this.view.status().entries }, 'fleet: the fleet view is within its limits again')
    }
  }

  /** Records the end of a cycle: the view is no longer current; the first loss is logged. */
  private lost (err: unknown): void {
    this.view.setConnected(false)
    this.settleFirst(false)
    if (this.stopping.signal.aborted) return
    const error = describeEtcdError(this.settings, err)
    if (this.lostSince !== null) {
      this.opts.log.debug({ error }, 'fleet: etcd still unreachable')
      return
    }
    this.lostSince = this.nowSeconds()
    const st = this.view.status()
    this.opts.log.warn({ error, revision: st.revision, entries: st.entries },
      this.everConnected
        ? 'fleet: lost etcd; serving the last fleet state and the local spool, reconnecting with back-off'
        : 'fleet: cannot reach etcd; serving the local spool (and the last fleet state, if any), retrying with back-off')
  }
}
