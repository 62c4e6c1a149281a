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

/** The directory inside the spool root. */
export const FLEET_DIR = '@fleet'
/** The file inside {@link FLEET_DIR}. */
export const SNAPSHOT_FILE = 'view.json'
/** Largest snapshot read: {@link MAX_FLEET_ENTRIES} keys of a few KB each. */
export const MAX_SNAPSHOT_BYTES = MAX_FLEET_ENTRIES * 4096

/** What the snapshot holds. */
export interface FleetSnapshot {
  revision: number
  /** Unix seconds when the view was last known current. */
  syncedAt: number | null
  kvs: FleetKv[]
}

/** What {@link saveSnapshot} writes: the view's dump plus whom it is for. */
export interface SnapshotData {
  prefix: string
  host: string
  revision: number | null
  syncedAt: number | null
  kvs: ReadonlyArray<readonly [string, number, string]>
}

/** Writes the snapshot atomically under `spoolRoot`. @throws HC_ERR_SPOOL_WRITE when it cannot. */
export async function saveSnapshot (spoolRoot: string, data: SnapshotData): Promise<void> {
  const doc = { hacheck_fleet_snapshot: 1, prefix: data.prefix, host: data.host, revision: data.revision, synced_at: data.syncedAt, kvs: data.kvs }
  await writeFileAtomic(join(spoolRoot, FLEET_DIR), SNAPSHOT_FILE, JSON.stringify(doc))
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
 */
export async function loadSnapshot (spoolRoot: string, prefix: string, host: string): Promise<FleetSnapshot | null> {
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
  if (d.hacheck_fleet_snapshot !== 1 || d.prefix !== prefix || d.host !== host || !Number.isSafeInteger(d.revision) || !Array.isArray(d.kvs)) return null
  const syncedAt = typeof d.synced_at === 'number' && Number.isFinite(d.synced_at) ? d.synced_at : null
  const kvs = d.kvs.filter(isKvRow).slice(0, MAX_FLEET_ENTRIES)
    .map(([key, modRevision, value]) => ({ key, modRevision, value: Buffer.from(value, 'utf8') }))
  return { revision: d.revision as number, syncedAt, kvs }
}
