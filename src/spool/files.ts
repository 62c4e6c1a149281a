/**
 * The files of a spool directory, below the lookups of `spool.ts`: reading one entry safely,
 * the keys a directory's files name, the careful removal of an expired file, and the sweeping
 * of temp files a killed writer left behind. Shared by the spool, its weights, the agent and
 * every tool.
 *
 * A spool entry is hostile until proven a small regular file: a FIFO would block the reader,
 * `/dev/zero` never ends, and a symlink to `/etc/passwd` would serve that file to any client as
 * a down reason. So an entry is read as `ops/bounded-read.ts` reads any such file (no symlink
 * followed, no blocking, a regular file of at most {@link MAX_SPOOL_FILE_BYTES}); anything else
 * is refused with a reason that names the problem and never quotes the file.
 */
import { randomBytes } from 'node:crypto'
import { linkSync, renameSync, unlinkSync } from 'node:fs'
import { lstat, readdir, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { HC_ERR_SPOOL_ROOT, errnoCode } from '../errors.js'
import { readBoundedFile, type BoundedRead } from '../ops/bounded-read.js'
import { parseSpoolFileName, type SpoolKey } from './format.js'

/** Largest spool or weight file read, bytes (real ones hold a few hundred); a bigger one is refused. */
export const MAX_SPOOL_FILE_BYTES = 64 * 1024

/** A temp file older than this, milliseconds, is a killed writer's left-over and is removed. */
export const STALE_TEMP_MS = 60_000

/** What {@link readSpoolFile} found (see {@link BoundedRead}). */
export type SpoolFileRead = BoundedRead

/**
 * Reads one spool or weight file, synchronously and boundedly, as `ops/bounded-read.ts` reads
 * any hostile file: at most {@link MAX_SPOOL_FILE_BYTES}. Never blocks on a FIFO or device,
 * never reads past the bound, never throws.
 *
 * @param label - how reasons name the file, e.g. `spool entry web` or `weight file @weight/web`.
 */
export function readSpoolFile (path: string, label: string): SpoolFileRead {
  return readBoundedFile(path, label, MAX_SPOOL_FILE_BYTES)
}

/**
 * Longest part of an entry's name that a temp file name repeats: the rest (`~<pid>~<hex>`,
 * `~expired~<hex>`) must still fit in 255 bytes beside it.
 */
const TEMP_NAME_PREFIX = 200

/**
 * The temp file name beside `file`, for a writer (`.<name>~<pid>~<hex>`) or an expiry
 * (`<name>~expired~<hex>`); never longer than a file name may be, whatever `file` is.
 */
export function tempFileName (file: string, kind: 'write' | 'expired'): string {
  const hex = randomBytes(6).toString('hex')
  const name = file.slice(0, TEMP_NAME_PREFIX)
  return kind === 'write' ? `.${name}~${process.pid}~${hex}` : `${name}~expired~${hex}`
}

/** True for a temp file name of a spool writer: `.<name>~<pid>~<hex>` or `<name>~expired~<hex>`. */
export function isTempFileName (name: string): boolean {
  return /^\.[^~]+~[0-9]+~[0-9a-f]+$/.test(name) || /^[^~]+~expired~[0-9a-f]+$/.test(name)
}

/**
 * Removes temp files that a killed writer left in `dir` (a `hadown` killed between its write and
 * its rename): regular files with a temp name, last modified more than {@link STALE_TEMP_MS}
 * ago. Best effort: never throws.
 *
 * @param names - the directory's entries when the caller has just listed it; read otherwise.
 * @returns how many were removed.
 */
export async function removeStaleTempFiles (dir: string, names?: readonly string[], nowMs = Date.now()): Promise<number> {
  let removed = 0
  try {
    for (const name of names ?? await readdir(dir)) {
      if (!isTempFileName(name)) continue
      const path = join(dir, name)
      const stats = await lstat(path).catch(() => undefined)
      if (stats === undefined || !stats.isFile() || nowMs - stats.mtimeMs < STALE_TEMP_MS) continue
      await unlink(path).then(() => { removed++ }, () => {})
    }
  } catch {}
  return removed
}

/**
 * The keys named by the files of `dir` (a spool root, or its weight directory), sorted by file
 * name; temp files and anything else that is not a spool name are skipped (and stale temp files
 * removed). A missing directory holds none.
 *
 * @throws the `readdir` error for any other failure.
 */
export async function readSpoolKeys (dir: string): Promise<SpoolKey[]> {
  let files: string[]
  try {
    files = await readdir(dir)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return []
    throw err
  }
  const keys: SpoolKey[] = []
  const temps: string[] = []
  for (const file of files.sort()) {
    const key = parseSpoolFileName(file)
    if (key !== null) keys.push(key)
    else if (isTempFileName(file)) temps.push(file)
  }
  if (temps.length > 0) await removeStaleTempFiles(dir, temps)
  return keys
}

/**
 * Deletes an expired file unless someone rewrote it since we read it (`seen` is what was read):
 * move it aside, compare, and put a changed file back with link() (which never overwrites an
 * even newer one). Never throws: a file it cannot remove simply stays.
 */
export function removeIfUnchanged (path: string, seen: string): void {
  const aside = join(dirname(path), tempFileName(basename(path), 'expired'))
  try {
    renameSync(path, aside)
  } catch {
    return // already gone, or not ours to remove (read-only spool): it still counts as up
  }
  try {
    const now = readSpoolFile(aside, 'expired spool entry')
    if (now.kind !== 'text' || now.text !== seen) linkSync(aside, path)
  } catch {
    // the file is gone or could not be put back; the newer writer's rename still stands
  } finally {
    try { unlinkSync(aside) } catch {}
  }
}

/**
 * Why a spool root cannot be read, in the words every tool uses (`hashowdowned`, `hastatus`):
 * a permission problem says how to run instead.
 */
export function spoolRootError (root: string, err: unknown): Error {
  const why = errnoCode(err) === 'EACCES' || errnoCode(err) === 'EPERM'
    ? `permission denied (${errnoCode(err) ?? ''}): run the tool with sudo, or as the user the server runs as`
    : (err as Error).message
  return new HC_ERR_SPOOL_ROOT(`cannot read spool root ${root}: ${why}`)
}
