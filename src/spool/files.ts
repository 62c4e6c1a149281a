/**
 * The files of a spool directory, below the lookups of `spool.ts`: whether a file may exist
 * (without leaving the event loop), the keys a directory's files name, and the careful removal
 * of an expired file. Shared by the spool and its weights.
 */
import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { errnoCode } from '../errors.js'
import { parseSpoolFileName, type SpoolKey } from './format.js'

/**
 * False only when `path` certainly does not exist. Most lookups find no file, and this answers
 * that with one stat that neither throws nor leaves the event loop (a few microseconds), where
 * a failed asynchronous read costs tens (a thread-pool round trip plus an Error with a stack).
 * Any other outcome (the file, or an error such as ENOTDIR or EACCES) says "read it": the read
 * then reports the file or the error, which fails closed.
 */
export function mayExist (path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined
  } catch {
    return true
  }
}

/**
 * The keys named by the files of `dir` (a spool root, or its weight directory), sorted by file
 * name; temp files and anything else that is not a spool name are skipped. A missing directory
 * holds none.
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
  for (const file of files.sort()) {
    const key = parseSpoolFileName(file)
    if (key !== null) keys.push(key)
  }
  return keys
}

/**
 * Deletes an expired file unless someone rewrote it since we read it (`seen` is what was read):
 * move it aside, compare, and put a changed file back with link() (which never overwrites an
 * even newer one). Never throws: a file it cannot remove simply stays.
 */
export function removeIfUnchanged (path: string, seen: string): void {
  const aside = `${path}~expired~${randomBytes(6).toString('hex')}`
  try {
    renameSync(path, aside)
  } catch {
    return // already gone, or not ours to remove (read-only spool): it still counts as up
  }
  try {
    if (readFileSync(aside, 'utf8') !== seen) linkSync(aside, path)
  } catch {
    // the file is gone or could not be put back; the newer writer's rename still stands
  } finally {
    try { unlinkSync(aside) } catch {}
  }
}
