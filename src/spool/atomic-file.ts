/**
 * Atomic file writes for the spool: temp file, fsync, rename, directory fsync, so a reader
 * never sees half a file and a crash leaves the old file or the new one.
 *
 * Imports no Fastify: the CLI tools share it with the server.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { HC_ERR_SPOOL_WRITE, errnoCode } from '../errors.js'
import { removeStaleTempFiles, tempFileName } from './files.js'
import { SPOOL_DIR_MODE, SPOOL_FILE_MODE, adoptDirs, adoptFile, createdDirs, spoolOwner, type SpoolOwner } from './ownership.js'

function writeError (target: string, err: unknown): Error {
  return new HC_ERR_SPOOL_WRITE(`cannot write spool file ${target}: ${(err as Error).message}`)
}

/**
 * Writes `dir/file` atomically, mode 0644 whatever the umask, owned as the spool root is (see
 * `ownership.ts`: a root writer never leaves a file the server cannot read). Recreates `dir`
 * (mode 0750, same owner) if it is missing, as the reference's configure() recreates the
 * spool root.
 *
 * @param file - a plain file name; never contains `~` (the temp files use it, so a reader
 *   listing the directory can tell them apart).
 * @param spoolRoot - the spool root whose owner and group the file takes (`dir` itself, or
 *   its parent for `@weight/` and `@fleet/`).
 * Then removes temp files older than a minute that killed writers left in `dir` (best effort).
 *
 * @throws HC_ERR_SPOOL_WRITE naming the file when it cannot be written; the previous file, if
 *   any, is left intact and no temp file remains.
 */
export async function writeFileAtomic (dir: string, file: string, data: string, spoolRoot: string = dir): Promise<void> {
  const target = join(dir, file)
  const tmp = join(dir, tempFileName(file, 'write'))
  let owner = spoolOwner(spoolRoot)
  try {
    await writeFileSynced(tmp, data, owner)
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw writeError(target, err)
    try {
      const first = await mkdir(dir, { recursive: true, mode: SPOOL_DIR_MODE })
      owner ??= spoolOwner(spoolRoot)
      await adoptDirs(createdDirs(first, dir), owner)
      await writeFileSynced(tmp, data, owner)
    } catch (retryErr) {
      throw writeError(target, retryErr)
    }
  }
  try {
    await rename(tmp, target)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw writeError(target, err)
  }
  await syncDir(dir)
  await removeStaleTempFiles(dir)
}

async function writeFileSynced (path: string, data: string, owner: SpoolOwner | undefined): Promise<void> {
  const fh = await open(path, 'wx', SPOOL_FILE_MODE)
  try {
    await adoptFile(fh, owner)
    await fh.writeFile(data, 'utf8')
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await unlink(path).catch(() => {})
    throw err
  }
  await fh.close()
}

async function syncDir (dir: string): Promise<void> {
  // Best effort: makes the rename durable across a crash where the platform allows it.
  try {
    const fh = await open(dir, 'r')
    try { await fh.sync() } finally { await fh.close() }
  } catch {}
}
