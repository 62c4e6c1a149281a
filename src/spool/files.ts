/**
 * The files of a spool directory, below the lookups of `spool.ts`: reading one entry safely,
 * the keys a directory's files name, the careful removal of an expired file, and the sweeping
 * of temp files a killed writer left behind. Shared by the spool, its weights, the agent and
 * every tool.
 *
 * A spool entry is hostile until proven a small regular file: a FIFO would block the reader
 * (and with it the event loop, or a thread-pool thread), `/dev/zero` never ends, and a symlink
 * to `/etc/passwd` would serve that file to any client as a down reason. So an entry is opened
 * without following symlinks and without blocking, checked with fstat to be a regular file, and
 * read up to {@link MAX_SPOOL_FILE_BYTES}; anything else is refused with a reason that names the
 * problem and never quotes the file.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, readSync, renameSync, unlinkSync, type Stats } from 'node:fs'
import { lstat, readdir, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { HC_ERR_SPOOL_ROOT, errnoCode } from '../errors.js'
import { parseSpoolFileName, type SpoolKey } from './format.js'

/** Largest spool or weight file read, bytes (real ones hold a few hundred); a bigger one is refused. */
export const MAX_SPOOL_FILE_BYTES = 64 * 1024

/** A temp file older than this, milliseconds, is a killed writer's left-over and is removed. */
export const STALE_TEMP_MS = 60_000

// O_NOFOLLOW: a symlink fails with ELOOP. O_NONBLOCK: a FIFO (swapped in after the lstat) opens
// at once instead of waiting for a writer; regular files ignore it.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0)

/** What {@link readSpoolFile} found. */
export type SpoolFileRead =
  /** No such file: the common case, answered by one lstat that does not throw. */
  | { readonly kind: 'absent' }
  /** A regular file of at most {@link MAX_SPOOL_FILE_BYTES}, decoded as UTF-8. */
  | { readonly kind: 'text', readonly text: string }
  /**
   * Something is there but may not be read; `reason` names the problem (fail closed), `code`
   * is the system error when there was one (`EACCES`, `ENOTDIR`, ...).
   */
  | { readonly kind: 'refused', readonly reason: string, readonly code?: string | undefined }

const ABSENT: SpoolFileRead = Object.freeze({ kind: 'absent' })

function refused (reason: string, code?: string): SpoolFileRead {
  return { kind: 'refused', reason, code }
}

function failed (label: string, err: unknown): SpoolFileRead {
  const code = errnoCode(err)
  return refused(`cannot read ${label}: ${code ?? (err as Error).message}`, code)
}

function problemOf (label: string, stats: Stats): string | undefined {
  if (stats.isSymbolicLink()) return `${label} is a symbolic link, not a regular file`
  if (!stats.isFile()) return `${label} is not a regular file`
  if (stats.size > MAX_SPOOL_FILE_BYTES) return `${label} is larger than ${MAX_SPOOL_FILE_BYTES} bytes`
  return undefined
}

/**
 * Reads one spool or weight file, synchronously and boundedly: an lstat (absent: done), then an
 * open with O_NOFOLLOW|O_NONBLOCK, an fstat that it is a regular file, and at most
 * {@link MAX_SPOOL_FILE_BYTES} + 1 bytes read. Never blocks on a FIFO or device, never reads
 * past the bound, never throws.
 *
 * @param label - how reasons name the file, e.g. `spool entry web` or `weight file @weight/web`.
 */
export function readSpoolFile (path: string, label: string): SpoolFileRead {
  let stats: Stats | undefined
  try {
    stats = lstatSync(path, { throwIfNoEntry: false })
  } catch (err) {
    return failed(label, err)
  }
  if (stats === undefined) return ABSENT
  const problem = problemOf(label, stats)
  if (problem !== undefined) return refused(problem)
  let fd: number
  try {
    fd = openSync(path, OPEN_FLAGS)
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'ENOENT') return ABSENT // removed since the lstat
    if (code === 'ELOOP') return refused(`${label} is a symbolic link, not a regular file`)
    return failed(label, err)
  }
  try {
    // The entry may have been swapped since the lstat: what counts is what was opened.
    const opened = fstatSync(fd)
    const swapped = problemOf(label, opened)
    if (swapped !== undefined) return refused(swapped)
    let buf = Buffer.allocUnsafe(opened.size + 1)
    let n = 0
    for (;;) {
      if (n === buf.length) {
        if (buf.length > MAX_SPOOL_FILE_BYTES) break
        const bigger = Buffer.allocUnsafe(MAX_SPOOL_FILE_BYTES + 1) // it grew while we read
        buf.copy(bigger, 0, 0, n)
        buf = bigger
      }
      const got = readSync(fd, buf, n, buf.length - n, null)
      if (got === 0) break
      n += got
    }
    if (n > MAX_SPOOL_FILE_BYTES) return refused(`${label} is larger than ${MAX_SPOOL_FILE_BYTES} bytes`)
    return { kind: 'text', text: buf.toString('utf8', 0, n) }
  } catch (err) {
    return failed(label, err)
  } finally {
    try { closeSync(fd) } catch {}
  }
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
