/**
 * (ours) The fleet view on disk, so that a hacheck restarted while etcd is away still has "the
 * last fleet state it had": a service the fleet took down stays down across the restart.
 *
 * One JSON file, `<spool root>/@fleet/view.json`, rewritten atomically (at most once a second)
 * after the view changes. `@fleet` is a directory for the reason `@weight` is one: the
 * reference's `hashowdowned` reads a directory as up, and `@` is never in a service name.
 * The file is read back as hostile input: bounded in size, every key and value through the same
 * parsing as etcd's, and only when it was written for the same prefix and host.
 */
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../spool/atomic-file.js'
import { MAX_FLEET_ENTRIES, type FleetKv } from './view.js'
import { delay } from './wait.js'

/** The directory inside the spool root. */
export const FLEET_DIR = '@fleet'
/** The file inside {@link FLEET_DIR}. */
export const SNAPSHOT_FILE = 'view.json'
/** Largest snapshot read: {@link MAX_FLEET_ENTRIES} keys of a few KB each. */
export const MAX_SNAPSHOT_BYTES = MAX_FLEET_ENTRIES * 4096

/** What the snapshot holds. */
export interface FleetSnapshot {
  /** The fleet prefix and host name it was written for. */
  prefix: string
  host: string
  revision: number
  /** Unix seconds when the view was last known current. */
  syncedAt: number | null
  kvs: FleetKv[]
  /** Keys the view could not hold when it was written (past its limits): it fails closed again. */
  unheld: number
}

/** What {@link saveSnapshot} writes: the view's dump plus whom it is for. */
export interface SnapshotData {
  prefix: string
  host: string
  revision: number | null
  syncedAt: number | null
  kvs: ReadonlyArray<readonly [string, number, string]>
  /** Keys the view could not hold (past its limits). */
  unheld?: number
}

/** Writes the snapshot atomically under `spoolRoot`. @throws HC_ERR_SPOOL_WRITE when it cannot. */
export async function saveSnapshot (spoolRoot: string, data: SnapshotData): Promise<void> {
  const doc = { hacheck_fleet_snapshot: 1, prefix: data.prefix, host: data.host, revision: data.revision, synced_at: data.syncedAt, kvs: data.kvs, unheld: data.unheld ?? 0 }
  await writeFileAtomic(join(spoolRoot, FLEET_DIR), SNAPSHOT_FILE, JSON.stringify(doc), spoolRoot)
}

async function readBounded (path: string): Promise<string | null> {
  let fh
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return null
  }
  try {
    const st = await fh.stat()
    if (!st.isFile() || st.size > MAX_SNAPSHOT_BYTES) return null
    const buf = Buffer.alloc(st.size)
    const { bytesRead } = await fh.read(buf, 0, st.size, 0)
    return buf.subarray(0, bytesRead).toString('utf8')
  } finally {
    await fh.close()
  }
}

const isKvRow = (row: unknown): row is [string, number, string] => Array.isArray(row) && row.length === 3 &&
  typeof row[0] === 'string' && Number.isSafeInteger(row[1]) && typeof row[2] === 'string'

/**
 * Reads the snapshot written for `prefix` and `host`; null when there is none, or it is not a
 * regular file, too large, not ours, or for another prefix or host. Rows that are not
 * `[key, revision, value]` are dropped; the view then parses each key and value as from etcd.
 *
 * @param prefix - null: whichever prefix it was written for (the tools, when no config names
 *   the fleet); so for `host`.
 */
export async function loadSnapshot (spoolRoot: string, prefix: string | null, host: string | null): Promise<FleetSnapshot | null> {
  const text = await readBounded(join(spoolRoot, FLEET_DIR, SNAPSHOT_FILE))
  if (text === null) return null
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return null
  }
  if (doc === null || typeof doc !== 'object') return null
  const d = doc as Record<string, unknown>
  if (d.hacheck_fleet_snapshot !== 1 || typeof d.prefix !== 'string' || typeof d.host !== 'string') return null
  if ((prefix !== null && d.prefix !== prefix) || (host !== null && d.host !== host) || !Number.isSafeInteger(d.revision) || !Array.isArray(d.kvs)) return null
  const syncedAt = typeof d.synced_at === 'number' && Number.isFinite(d.synced_at) ? d.synced_at : null
  const rows = d.kvs.filter(isKvRow)
  const kvs = rows.slice(0, MAX_FLEET_ENTRIES)
    .map(([key, modRevision, value]) => ({ key, modRevision, value: Buffer.from(value, 'utf8') }))
  // Past the limits the view failed closed; a restart from the snapshot must too.
  const unheld = (Number.isSafeInteger(d.unheld) && (d.unheld as number) > 0 ? d.unheld as number : 0) + rows.length - kvs.length
  return { prefix: d.prefix, host: d.host, revision: d.revision as number, syncedAt, kvs, unheld }
}

/** What a {@link SnapshotWriter} logs to. */
export interface SnapshotLog {
  warn: (fields: Record<string, unknown>, message: string) => void
}

/** Least time between two snapshot writes while changes keep coming, milliseconds. */
export const SNAPSHOT_INTERVAL_MS = 1000

/**
 * Keeps the snapshot file current: written at once after a change (a crash a moment later
 * keeps it), then at most once per {@link SNAPSHOT_INTERVAL_MS} while changes keep coming. A
 * failure is warned about once until a write succeeds again. State: whether a change is
 * unwritten, the write loop in progress, whether the failure was reported.
 */
export class SnapshotWriter {
  private dirty = false
  private flushing: Promise<void> | undefined
  private warned = false
  private readonly stopping = new AbortController()

  constructor (private readonly opts: { spoolRoot: string, data: () => SnapshotData, log: SnapshotLog }) {}

  /** Notes that the view changed; starts a write unless one is under way. */
  changed (): void {
    this.dirty = true
    this.flushing ??= this.flush()
  }

  /** Ends the pause between writes and waits for the last one. */
  async stop (): Promise<void> {
    this.stopping.abort()
    await this.flushing
  }

  private async flush (): Promise<void> {
    while (this.dirty) {
      this.dirty = false
      await this.write()
      await delay(SNAPSHOT_INTERVAL_MS, this.stopping.signal, true)
    }
    this.flushing = undefined
  }

  private async write (): Promise<void> {
    try {
      await saveSnapshot(this.opts.spoolRoot, this.opts.data())
      this.warned = false
    } catch (err) {
      if (!this.warned) this.opts.log.warn({ err: (err as Error).message }, 'fleet: cannot write the @fleet snapshot; a restart while etcd is away would forget the fleet state')
      this.warned = true
    }
  }
}
