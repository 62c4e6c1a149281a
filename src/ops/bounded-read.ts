/**
 * Reading a small file that may be hostile: a spool entry, a weight file, a pressure file. A
 * FIFO would block the reader (and with it the event loop, or a thread-pool thread),
 * `/dev/zero` never ends, and a symlink to `/etc/passwd` would serve that file to any client.
 * So a file is opened without following symlinks and without blocking, checked with fstat to be
 * a regular file, and read up to a bound; anything else is refused with a reason that names the
 * problem and never quotes the file.
 *
 * Synchronous on purpose: these files are a few hundred bytes, and a read that cannot block
 * costs less than a trip through the thread pool. Imports node builtins and the top-level leaves
 * only.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs'
import { errnoCode } from '../errors.js'

// O_NOFOLLOW: a symlink fails with ELOOP. O_NONBLOCK: a FIFO (swapped in after the lstat) opens
// at once instead of waiting for a writer; regular files ignore it.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0)

/** What {@link readBoundedFile} found. */
export type BoundedRead =
  /** No such file: the common case, answered by one lstat that does not throw. */
  | { readonly kind: 'absent' }
  /** A regular file of at most the bound, decoded as UTF-8. */
  | { readonly kind: 'text', readonly text: string }
  /**
   * Something is there but may not be read; `reason` names the problem (fail closed), `code`
   * is the system error when there was one (`EACCES`, `ENOTDIR`, ...).
   */
  | { readonly kind: 'refused', readonly reason: string, readonly code?: string | undefined }

/** The first read's size when the file's size says less (procfs, cgroupfs: 0), bytes. */
const SMALL_FILE_BYTES = 1024

const ABSENT: BoundedRead = Object.freeze({ kind: 'absent' })

function refused (reason: string, code?: string): BoundedRead {
  return { kind: 'refused', reason, code }
}

function failed (label: string, err: unknown): BoundedRead {
  const code = errnoCode(err)
  return refused(`cannot read ${label}: ${code ?? (err as Error).message}`, code)
}

function problemOf (label: string, stats: Stats, maxBytes: number): string | undefined {
  if (stats.isSymbolicLink()) return `${label} is a symbolic link, not a regular file`
  if (!stats.isFile()) return `${label} is not a regular file`
  if (stats.size > maxBytes) return `${label} is larger than ${maxBytes} bytes`
  return undefined
}

/**
 * Reads one file, synchronously and boundedly: an lstat (absent: done), then an open with
 * O_NOFOLLOW|O_NONBLOCK, an fstat that it is a regular file, and at most `maxBytes` + 1 bytes
 * read. Never blocks on a FIFO or device, never reads past the bound, never throws. Files of
 * procfs and cgroupfs, whose size says 0, are read to their end within the same bound.
 *
 * @param label - how reasons name the file, e.g. `spool entry web` or `pressure file /proc/pressure/cpu`.
 * @param maxBytes - the largest file accepted; a bigger one is refused.
 */
export function readBoundedFile (path: string, label: string, maxBytes: number): BoundedRead {
  let stats: Stats | undefined
  try {
    stats = lstatSync(path, { throwIfNoEntry: false })
  } catch (err) {
    return failed(label, err)
  }
  if (stats === undefined) return ABSENT
  const problem = problemOf(label, stats, maxBytes)
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
    const swapped = problemOf(label, opened, maxBytes)
    if (swapped !== undefined) return refused(swapped)
    // procfs and cgroupfs files say size 0: start with room for a small file, not one byte.
    let buf = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(opened.size, SMALL_FILE_BYTES)) + 1)
    let n = 0
    for (;;) {
      if (n === buf.length) {
        if (buf.length > maxBytes) break
        const bigger = Buffer.allocUnsafe(maxBytes + 1) // it grew while we read, or its size said 0
        buf.copy(bigger, 0, 0, n)
        buf = bigger
      }
      const got = readSync(fd, buf, n, buf.length - n, null)
      if (got === 0) break
      n += got
    }
    if (n > maxBytes) return refused(`${label} is larger than ${maxBytes} bytes`)
    return { kind: 'text', text: buf.toString('utf8', 0, n) }
  } catch (err) {
    return failed(label, err)
  } finally {
    try { closeSync(fd) } catch {}
  }
}
