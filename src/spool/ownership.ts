/**
 * Who owns the spool, and keeping it so: the server reads every file in it, so everything a
 * writer creates there must stay readable to the server, whoever runs the writer and whatever
 * its umask (docs/install.md "Spool ownership").
 *
 * The server's identity is taken from the spool root: its owner and group (the Debian package
 * and the systemd unit make it `hacheck:hacheck`, mode 0750). A writer running as root (`sudo
 * hadown`, `sudo haweight`) gives what it creates that owner and group; any other writer gives
 * it the root's group where it may (it is a member), so a server in that group can read it.
 * Modes are set explicitly, never left to the umask: files 0644, directories 0750.
 *
 * Repair: the tools that write (`haup`, `hadown`, `haweight`) also put right what an older
 * version or a hand-made file broke: every spool entry, and every `@` directory (`@weight`,
 * `@fleet`; `@` is never in a service name) and its files, get the root's owner and group, and
 * the standard mode when the server could not read them. Symbolic links, FIFOs and devices are
 * left alone (the readers refuse them anyway), and nothing outside the root is touched.
 *
 * Imports no Fastify.
 */
import { constants, lstatSync, statSync, type Stats } from 'node:fs'
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { errnoCode, hasCode, HC_ERR_SPOOL_REPAIR } from '../errors.js'
import { isTempFileName } from './files.js'
import { parseSpoolFileName } from './format.js'

/** Mode of every file a writer creates in the spool. */
export const SPOOL_FILE_MODE = 0o644
/** Mode of every directory a writer creates in the spool (the root included). */
export const SPOOL_DIR_MODE = 0o750
/** Most entries one directory's repair looks at; the rest are left as they are, and said so. */
export const MAX_REPAIR_ENTRIES = 10_000

/** The spool root's owner and group: who the server runs as. */
export interface SpoolOwner {
  uid: number
  gid: number
}

/** What one repair changed. Modes are the permission bits (e.g. 0o700). */
export interface Repaired {
  path: string
  before: { uid: number, gid: number, mode: number }
  after: { uid: number, gid: number, mode: number }
}

/** The directories a recursive `mkdir` created, outermost first: from `first` (what it returned) down to `dir`. */
export function createdDirs (first: string | undefined, dir: string): string[] {
  if (first === undefined) return []
  const dirs = [first]
  for (const part of relative(first, dir).split(sep).filter((p) => p !== '')) dirs.push(join(dirs.at(-1) as string, part))
  return dirs
}

/** The owner and group of the spool root (following a symlinked root), or undefined when it cannot be read. */
export function spoolOwner (root: string): SpoolOwner | undefined {
  try {
    const stats = statSync(root)
    return { uid: stats.uid, gid: stats.gid }
  } catch {
    return undefined
  }
}

/** Whether this process may give files away (`chown` to another user): root only, on Linux. */
function mayGiveAway (): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0
}

/**
 * The owner and group to give a new entry: the root's owner and group when running as root;
 * otherwise only the group (-1 leaves the owner as it is), which the kernel allows a member.
 */
function wantedIds (owner: SpoolOwner): { uid: number, gid: number } {
  return mayGiveAway() ? owner : { uid: -1, gid: owner.gid }
}

/**
 * Gives a file a writer has just created (still open, not yet renamed into place) the spool's
 * owner and group and {@link SPOOL_FILE_MODE}, whatever the umask. A group change refused to a
 * non-member is skipped: the file is then the writer's own, mode 0644, readable by anyone
 * who can reach its directory.
 *
 * @throws the `fchown`/`fchmod` error when running as root (a root writer must not leave a
 *   file the server cannot read).
 */
export async function adoptFile (fh: FileHandle, owner: SpoolOwner | undefined): Promise<void> {
  await adopt(fh, owner, SPOOL_FILE_MODE)
}

async function adopt (fh: FileHandle, owner: SpoolOwner | undefined, mode: number): Promise<void> {
  await fh.chmod(mode)
  if (owner === undefined) return
  const ids = wantedIds(owner)
  const stats = await fh.stat()
  if ((ids.uid === -1 || stats.uid === ids.uid) && stats.gid === ids.gid) return
  try {
    await fh.chown(ids.uid, ids.gid)
  } catch (err) {
    if (mayGiveAway()) throw err
  }
}

/**
 * Gives directories a writer has just created the spool's owner and group and `mode`
 * ({@link SPOOL_DIR_MODE} by default), whatever the umask; same rules as {@link adoptFile}.
 *
 * @param dirs - the directories created, outermost first.
 * @throws the `chown`/`chmod` error when running as root.
 */
export async function adoptDirs (dirs: readonly string[], owner: SpoolOwner | undefined, mode = SPOOL_DIR_MODE): Promise<void> {
  for (const dir of dirs) {
    const fh = await openNoFollow(dir, true)
    try {
      await adopt(fh, owner, mode)
    } finally {
      await fh.close()
    }
  }
}

/**
 * Opens an entry to change its owner or mode through the descriptor, never through the path:
 * a root writer must not chmod whatever a symlink swapped in after its mkdir or lstat points
 * to (`/etc/shadow`). O_NOFOLLOW refuses a link, O_NONBLOCK a FIFO's wait; the fstat must then
 * show the kind expected.
 *
 * @throws ELOOP for a link, or HC_ERR_SPOOL_REPAIR when the entry is not the expected kind.
 */
async function openNoFollow (path: string, directory: boolean): Promise<FileHandle> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | (directory ? constants.O_DIRECTORY : 0)
  const fh = await open(path, flags)
  const stats = await fh.stat()
  if (directory ? stats.isDirectory() : stats.isFile()) return fh
  await fh.close()
  throw new HC_ERR_SPOOL_REPAIR(path, `it is no longer a ${directory ? 'directory' : 'regular file'}`)
}

/**
 * Whether the server, known by the spool root's `owner`, may read a file, or list and enter a
 * directory, with these stats: POSIX permission classes, the first that matches counts (owner,
 * then group, then others). A root-owned spool root with another group (`root:hacheck 0770`)
 * means a server in that group; `root:root` means a server running as root, which reads
 * anything. Supplementary groups are not known here.
 */
export function ownerMayRead (stats: Pick<Stats, 'uid' | 'gid' | 'mode' | 'isDirectory'>, owner: SpoolOwner): boolean {
  if (owner.uid === 0 && owner.gid === 0) return true
  const need = stats.isDirectory() ? 0o5 : 0o4
  const asOwner = owner.uid !== 0 && stats.uid === owner.uid
  const bits = asOwner ? (stats.mode >> 6) & 7 : stats.gid === owner.gid ? (stats.mode >> 3) & 7 : stats.mode & 7
  return (bits & need) === need
}

/**
 * The entries of a spool root the server reads for these spool file names: the root itself,
 * each named file, the `@weight` directory and each named file in it; only those that exist,
 * each with its lstat. Never follows a link below the root.
 */
export function entriesRead (root: string, files: readonly string[], weightDir: string): Array<{ path: string, stats: Stats }> {
  const paths = [root, ...files.map((f) => join(root, f)), join(root, weightDir), ...files.map((f) => join(root, weightDir, f))]
  const found: Array<{ path: string, stats: Stats }> = []
  for (const path of [...new Set(paths)]) {
    try {
      const stats = path === root ? statSync(path, { throwIfNoEntry: false }) : lstatSync(path, { throwIfNoEntry: false })
      if (stats !== undefined && (stats.isFile() || stats.isDirectory())) found.push({ path, stats })
    } catch {}
  }
  return found
}

function permissionBits (stats: Stats): number {
  return stats.mode & 0o7777
}

/**
 * Puts one entry right: the root's owner and group, and the standard mode when `owner` could
 * not read it. Returns what changed, or null when nothing had to.
 */
async function repairEntry (path: string, stats: Stats, owner: SpoolOwner, giveAway: boolean): Promise<Repaired | null> {
  const before = { uid: stats.uid, gid: stats.gid, mode: permissionBits(stats) }
  const after = { ...before }
  if (giveAway) {
    after.uid = owner.uid
    after.gid = owner.gid
  }
  if (!ownerMayRead({ ...after, mode: after.mode, isDirectory: () => stats.isDirectory() }, owner)) {
    after.mode = stats.isDirectory() ? SPOOL_DIR_MODE : SPOOL_FILE_MODE
  }
  if (after.uid === before.uid && after.gid === before.gid && after.mode === before.mode) return null
  const fh = await openNoFollow(path, stats.isDirectory())
  try {
    const now = await fh.stat()
    if (now.ino !== stats.ino || now.dev !== stats.dev) throw new HC_ERR_SPOOL_REPAIR(path, 'it was replaced')
    if (after.uid !== before.uid || after.gid !== before.gid) await fh.chown(after.uid, after.gid)
    if (after.mode !== before.mode) await fh.chmod(after.mode)
  } finally {
    await fh.close()
  }
  return { path, before, after }
}

/** What {@link repairSpool} did. */
export interface RepairReport {
  repaired: Repaired[]
  /** Entries that could not be put right, with the system error. */
  failed: Array<{ path: string, error: string }>
  /** Directories holding more than {@link MAX_REPAIR_ENTRIES} entries (the rest were not looked at). */
  truncated: string[]
}

/**
 * Gives every spool entry and every `@` directory (and its regular files) the spool root's
 * owner and group, and a mode the server can read (see the file comment). Only a root caller
 * changes owners; any caller fixes the modes of what it owns. Best effort: never throws.
 */
export async function repairSpool (root: string): Promise<RepairReport> {
  const report: RepairReport = { repaired: [], failed: [], truncated: [] }
  const owner = spoolOwner(root)
  if (owner === undefined) return report
  const giveAway = mayGiveAway()
  const visit = async (dir: string, wanted: (name: string, stats: Stats) => boolean, depth: number): Promise<void> => {
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      return
    }
    if (names.length > MAX_REPAIR_ENTRIES) report.truncated.push(dir)
    for (const name of names.sort().slice(0, MAX_REPAIR_ENTRIES)) {
      if (isTempFileName(name)) continue
      const path = join(dir, name)
      const stats = await lstat(path).catch(() => undefined)
      if (stats === undefined || !(stats.isFile() || stats.isDirectory()) || !wanted(name, stats)) continue
      if (!giveAway && stats.uid !== process.geteuid?.()) continue
      try {
        const done = await repairEntry(path, stats, owner, giveAway)
        if (done !== null) report.repaired.push(done)
      } catch (err) {
        report.failed.push({ path, error: hasCode(err, 'HC_ERR_SPOOL_REPAIR') ? err.message : errnoCode(err) ?? (err as Error).message })
        continue
      }
      if (depth === 0 && stats.isDirectory()) await visit(path, (_n, s) => s.isFile(), 1)
    }
  }
  await visit(root, (name, stats) => stats.isDirectory() ? name.startsWith('@') : parseSpoolFileName(name) !== null, 0)
  return report
}
