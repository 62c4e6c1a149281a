/**
 * (ours) What `hastatus` reports: what the daemon answers now for each service, by the lookup
 * the server runs ({@link Spool.isUp}: `all`, the service, its port; at each step the local file,
 * then this host's and the fleet-wide fleet entry; `endsLookup` in `spool/format.ts`), not only
 * the service's own file (docs/tools.md "What hastatus prints").
 *
 * The fleet's entries come from the daemon's snapshot of its fleet view (`<spool
 * root>/@fleet/view.json`, rewritten within a second of each change), read here as the server
 * reads it at start; whether that view is current comes from the daemon's `GET /status`
 * (`fleet.connected`, `fleet.seconds_since_last_sync`). The daemon is asked only when a fleet
 * is in play (the config names one, or a snapshot exists), and for at most 3 s. When the
 * daemon's view is at a later etcd revision than the snapshot (a change of the last second),
 * the snapshot is read again until it catches up, for at most {@link SNAPSHOT_CATCH_UP_MS}.
 */
import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FleetSettings } from '../config/fleet.js'
import { FLEET_DIR, SNAPSHOT_FILE, SNAPSHOT_INTERVAL_MS, loadSnapshot } from '../fleet/snapshot.js'
import { FleetMirror } from '../fleet/view.js'
import { Spool } from '../spool/spool.js'

/** Bound on the question to the daemon, as `halist`'s. */
const DAEMON_TIMEOUT_MS = 3000

/** How long a snapshot behind the daemon's view is waited for: two of its rewrite intervals. */
const SNAPSHOT_CATCH_UP_MS = 2 * SNAPSHOT_INTERVAL_MS
const SNAPSHOT_POLL_MS = 100

/** The `fleet` member of the daemon's `/status` (see `http/routes/status.ts`). */
interface DaemonFleet {
  connected?: unknown
  revision?: unknown
  seconds_since_last_sync?: unknown
  entries?: unknown
  host?: unknown
  prefix?: unknown
}

/** What the daemon said: nothing (not answering), no fleet, or its fleet's state. */
type DaemonAnswer = { answered: false } | { answered: true, fleet: DaemonFleet | undefined }

/** The daemon's `/status` on 127.0.0.1:`port`. */
async function askDaemon (port: number): Promise<DaemonAnswer> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(DAEMON_TIMEOUT_MS) })
    if (!res.ok) return { answered: false }
    const body = await res.json() as { fleet?: DaemonFleet } | null
    const fleet = body?.fleet
    return { answered: true, fleet: fleet !== null && typeof fleet === 'object' ? fleet : undefined }
  } catch {
    return { answered: false }
  }
}

const text = (value: unknown): string | null => typeof value === 'string' ? value : null

/** The lookup `hastatus` runs, and what to say beside its answers. */
export interface EffectiveLookup {
  /** The spool, with the daemon's fleet view when a fleet is in effect. */
  spool: Spool
  /**
   * How current the fleet's part is, when that is in doubt (`fleet as of 42s ago (etcd
   * unreachable)`); null without a fleet or while the daemon's view is current.
   */
  note: string | null
}

/** Options for {@link effectiveLookup}. */
export interface EffectiveLookupOptions {
  /** The fleet the tool's config names, if any. */
  fleet: FleetSettings | null
  /** The daemon's port (`-p`). */
  daemonPort: number
  nowSeconds?: () => number
}

/**
 * Builds the lookup for a spool root. With no fleet in the config and no snapshot, the local
 * spool alone (the daemon is not asked).
 */
export async function effectiveLookup (root: string, opts: EffectiveLookupOptions): Promise<EffectiveLookup> {
  const nowSeconds = opts.nowSeconds ?? (() => Date.now() / 1000)
  const snapshotExists = await lstat(join(root, FLEET_DIR, SNAPSHOT_FILE)).then(() => true, () => false)
  if (opts.fleet === null && !snapshotExists) return { spool: new Spool(root, nowSeconds), note: null }
  const daemon = await askDaemon(opts.daemonPort)
  // A daemon without a fleet answers from its spool alone, whatever snapshot lies around.
  if (daemon.answered && daemon.fleet === undefined) return { spool: new Spool(root, nowSeconds), note: null }
  const prefix = (daemon.answered ? text(daemon.fleet?.prefix) : null) ?? opts.fleet?.prefix ?? null
  const host = (daemon.answered ? text(daemon.fleet?.host) : null) ?? opts.fleet?.host ?? null
  const read = async () => await loadSnapshot(root, prefix, host).catch(() => null)
  let snapshot = await read()
  const daemonRevision = daemon.answered ? daemon.fleet?.revision : undefined
  if (typeof daemonRevision === 'number' && snapshot !== null) {
    const until = performance.now() + SNAPSHOT_CATCH_UP_MS
    while (snapshot !== null && snapshot.revision < daemonRevision && performance.now() < until) {
      await sleep(SNAPSHOT_POLL_MS)
      snapshot = await read()
    }
  }
  // No daemon and no snapshot: no fleet view exists anywhere; the local spool is the answer.
  if (!daemon.answered && snapshot === null) return { spool: new Spool(root, nowSeconds), note: null }
  const view = new FleetMirror({ prefix: snapshot?.prefix ?? prefix ?? '', host: snapshot?.host ?? host ?? '', nowSeconds })
  if (snapshot !== null) view.replace(snapshot.kvs, snapshot.revision, snapshot.syncedAt)
  let note: string | null
  if (daemon.answered) {
    const age = daemon.fleet?.seconds_since_last_sync
    const held = daemon.fleet?.entries
    note = snapshot === null && typeof held === 'number' && held > 0
      ? `fleet entries unknown (the daemon holds ${held}; no readable @fleet snapshot)`
      : daemon.fleet?.connected === true
        ? null
        : typeof age === 'number' ? `fleet as of ${Math.round(age)}s ago (etcd unreachable)` : 'fleet never synced with etcd'
  } else {
    const written = snapshot?.syncedAt ?? null
    note = `fleet as of the @fleet snapshot${written === null ? '' : ` written ${Math.max(0, Math.round(nowSeconds() - written))}s ago`} (no hacheck answering on 127.0.0.1:${opts.daemonPort})`
  }
  return { spool: new Spool(root, nowSeconds, undefined, view), note }
}
