/**
 * (ours) http_status presence files: an empty file in the http_status root says "this service
 * takes traffic", as the http_status daemon and its init-script `activate`/`inactivate` keep
 * them. Names: `<service>.<port>`, `<service>`, or `status.html` for the host, and
 * `status.html.<port>` with a port but no service (as the original appends `.<port>` to
 * whichever name it has).
 *
 * Files are hostile input: a lookup never follows a symlink (lstat on the last component,
 * which names a file inside the root since names hold no `/`), never opens or reads the file
 * (so a FIFO cannot block it and a huge file costs nothing), and counts only a regular file.
 * The root itself may be a symlink (`/var/run` is one on Debian).
 *
 * Imports no Fastify: the `haactivate`/`hainactivate` tools share it with the server.
 */
import { constants, lstatSync } from 'node:fs'
import { mkdir, open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { HC_ERR_SPOOL_NAME, HC_ERR_SPOOL_WRITE, errnoCode, hasCode } from '../errors.js'
import { isValidServiceName } from './format.js'
import { SPOOL_FILE_MODE, adoptDirs, adoptFile, createdDirs, spoolOwner } from './ownership.js'

/** Mode of an http_status root the tools create, as `activate`'s `mkdir -p` under umask 022. */
const PRESENCE_DIR_MODE = 0o755

/** Where http_status keeps its files, and the tools' default. */
export const DEFAULT_HTTP_STATUS_ROOT = '/var/run/http_status'

/** The host's presence file, asked for without `SERVICE`. */
export const HOST_PRESENCE_FILE = 'status.html'

/** What a presence file is for: a service (or the host), optionally one port. */
export interface PresenceKey {
  service?: string | undefined
  /** 1-65535. */
  port?: number | undefined
}

/** The answer of a lookup. `reason` is one line, naming the file but never its contents. */
export type Presence = { present: true, file: string } | { present: false, file: string, reason: string }

/**
 * The file name for a key: `<service>.<port>`, `<service>`, `status.html`, `status.html.<port>`.
 *
 * @throws HC_ERR_SPOOL_NAME (400) for a service that is not `[.a-zA-Z0-9_-]+` (or is `.`/`..`)
 *   or a port that is not 1-65535.
 */
export function presenceFileName (key: PresenceKey): string {
  const { service, port } = key
  if (service !== undefined && !isValidServiceName(service)) {
    throw new HC_ERR_SPOOL_NAME(`invalid service name ${JSON.stringify(service.slice(0, 64))}: must match [.a-zA-Z0-9_-]+ and not be . or ..`)
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new HC_ERR_SPOOL_NAME(`invalid port ${String(port)}: must be an integer 1-65535`)
  }
  const base = service ?? HOST_PRESENCE_FILE
  return port === undefined ? base : `${base}.${port}`
}

/**
 * Whether presence file `file` (a name from {@link presenceFileName}) exists in `root` as a
 * regular file. Synchronous: one lstat, no open, no read. Never throws.
 */
export function presence (root: string, file: string): Presence {
  let stats
  try {
    stats = lstatSync(join(root, file), { throwIfNoEntry: false })
  } catch (err) {
    return { present: false, file, reason: `presence file ${file} cannot be read: ${errnoCode(err) ?? 'error'}` }
  }
  if (stats === undefined) return { present: false, file, reason: `no presence file ${file}` }
  if (stats.isSymbolicLink()) return { present: false, file, reason: `presence file ${file} is a symlink (not followed)` }
  if (!stats.isFile()) return { present: false, file, reason: `presence file ${file} is not a regular file` }
  return { present: true, file }
}

/**
 * Creates presence file `file` in `root` (empty, mode 0644), creating `root` (mode 0755) when
 * missing, as `activate` does; the modes are set whatever the umask, and a new file takes the
 * root's owner and group when root creates it (`ownership.ts`), so the server can always see
 * it. An existing regular file is left as it is. Never follows a symlink and never blocks on
 * a FIFO.
 *
 * @throws HC_ERR_SPOOL_WRITE naming the file when it cannot be created, or when something other
 *   than a regular file has its name.
 */
export async function activatePresence (root: string, file: string): Promise<void> {
  const path = join(root, file)
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK
  try {
    const first = await mkdir(root, { recursive: true, mode: PRESENCE_DIR_MODE })
    await adoptDirs(createdDirs(first, root), undefined, PRESENCE_DIR_MODE)
    let created = true
    const handle = await open(path, flags | constants.O_EXCL, SPOOL_FILE_MODE).catch(async (err: unknown) => {
      if (errnoCode(err) !== 'EEXIST') throw err
      created = false
      return await open(path, flags, SPOOL_FILE_MODE)
    })
    try {
      if (!(await handle.stat()).isFile()) throw new HC_ERR_SPOOL_WRITE(`cannot create presence file ${path}: it exists and is not a regular file`)
      if (created) await adoptFile(handle, spoolOwner(root))
    } finally {
      await handle.close()
    }
  } catch (err) {
    if (hasCode(err, 'HC_ERR_SPOOL_WRITE')) throw err
    const why = errnoCode(err) === 'ELOOP' ? 'it is a symlink' : (err as Error).message
    throw new HC_ERR_SPOOL_WRITE(`cannot create presence file ${path}: ${why}`)
  }
}

/**
 * Removes presence file `file` from `root`, as `inactivate` does; an absent file (or root) is
 * fine. A symlink of that name is removed itself, never what it points to.
 *
 * @throws HC_ERR_SPOOL_WRITE naming the file when it cannot be removed.
 */
export async function inactivatePresence (root: string, file: string): Promise<void> {
  const path = join(root, file)
  try {
    await unlink(path)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return
    throw new HC_ERR_SPOOL_WRITE(`cannot remove presence file ${path}: ${(err as Error).message}`)
  }
}
