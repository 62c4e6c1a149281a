/**
 * The spool: one file per "down" assertion in a directory, as Yelp's hacheck keeps it.
 *
 * File names: `all` (the whole host), `<service>`, `<service>:<port>`, and
 * `<service>:<host>:<port>` for a target other than 127.0.0.1. Contents: JSON
 * `{"reason": str, "expiration": float|null, "creation": float|null}` (unix seconds), or any
 * other text, which is a legacy file whose whole content is the reason (docs/http-api.md "Check routes").
 *
 * (ours) A file may also carry `"state": "drain"` or `"state": "maint"`; absent (or anything
 * else) means `down`. The reference reads any such file as down, which is the safe reading:
 * a reference reader never sends traffic to a host we drain. Plain down files are written
 * without the key, byte for byte as the reference writes them.
 *
 * Lookups are synchronous: a spool is a local directory of files of a few hundred bytes, most
 * lookups find no file (one lstat that does not throw), and a check is answered without a
 * thread-pool round trip or a promise per file. An entry that exists is opened without
 * following symlinks or blocking and read up to 64 KiB, so a FIFO, a device or a huge file can
 * neither stall nor bloat the process (`files.ts`). Writes are asynchronous and fsynced.
 *
 * Rules kept here and nowhere else: the all → service → service:port lookup order; an expired
 * file counts as absent and is deleted; a file that exists but cannot be read is down (fail
 * closed); names are validated so nothing can escape the root; writes are atomic (temp file,
 * fsync, rename), so a reader never sees half a file.
 *
 * Folder spool/ (this is its main file): operator intent. The spool store and everything about
 * its files: names and contents (`format.ts`), the files themselves (`files.ts`), atomic writes
 * (`atomic-file.ts`), weights (`weight.ts`), remote changes (`change.ts`). The fleet's entries
 * (`fleet/`) are consulted through the {@link FleetView} the server hands in. May import only
 * `ops/`, `config/` and the top-level leaves (`errors.ts`, `cidr.ts`, `version.ts`), and
 * `fleet/` by `import type`; never Fastify: the CLI tools share it with the server.
 */
import { constants, statSync } from 'node:fs'
import { access, mkdir, stat, unlink } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { HC_ERR_SPOOL_ROOT, HC_ERR_SPOOL_WRITE, errnoCode } from '../errors.js'
import { writeFileAtomic } from './atomic-file.js'
import { MAX_SPOOL_FILE_BYTES, readSpoolFile, readSpoolKeys, removeIfUnchanged, removeStaleTempFiles, spoolRootError } from './files.js'
import { SPOOL_DIR_MODE, adoptDirs } from './ownership.js'
import type { FleetView } from '../fleet/view.js'
import {
  ALL, endsLookup, fileOf, formatSpoolContents, normaliseKey, parseSpoolContents, spoolFileName,
  type SpoolEntry, type SpoolInfo, type SpoolKey, type SpoolState, type SpoolStateName
} from './format.js'

export * from './format.js'
export { readSpoolKeys, spoolRootError } from './files.js'

/** Options for {@link Spool.down}. Times are unix seconds. */
export interface DownOptions {
  reason: string
  expiration?: number | null | undefined
  /** Defaults to now, or to the existing file's creation when re-downing with the same reason and state. */
  creation?: number | null | undefined
  /** (ours) Default `down`. */
  state?: SpoolStateName | undefined
}

/** The answer for "no file says otherwise"; shared, since most lookups end here. */
const UP: SpoolState = Object.freeze({ up: true })
const ALL_KEY: SpoolKey = Object.freeze({ service: ALL })

/** Options for {@link Spool.open}. */
export interface SpoolOpenOptions {
  /** Require write access too (the up/down tools, remote spool changes). */
  write?: boolean
  /** Clock in unix seconds; injected by tests. */
  nowSeconds?: () => number
  /** Where to report a root that goes missing at run time (the server passes its logger). */
  log?: SpoolLog
  /** (ours) The fleet view, consulted beside each file of a lookup (see `fleet/view.ts`). */
  fleet?: FleetView
}

/** What the spool reports about its directory; a pino logger fits. */
export interface SpoolLog {
  warn: (msg: string) => void
  info: (msg: string) => void
}

/**
 * A spool directory. Holds no spool state: every lookup reads the files, so `hadown` on the
 * command line is seen by the very next check. (It remembers only whether it has already
 * warned that the root is missing.)
 */
export class Spool {
  readonly root: string
  readonly nowSeconds: () => number
  /** `root` ending in a separator: file paths are `prefix + name` (no path.join per lookup). */
  private readonly prefix: string
  private readonly log: SpoolLog | undefined
  private rootMissing = false
  private rootCheckedAt = Number.NEGATIVE_INFINITY
  /** (ours) The fleet's entries, in memory; undefined without a fleet. */
  readonly fleet: FleetView | undefined

  /** Prefer {@link Spool.open}, which checks the directory; this does not touch the disk. */
  constructor (root: string, nowSeconds: () => number = () => Date.now() / 1000, log?: SpoolLog, fleet?: FleetView) {
    this.root = root
    this.prefix = root.endsWith(sep) ? root : `${root}${sep}`
    this.nowSeconds = nowSeconds
    this.log = log
    this.fleet = fleet
  }

  /**
   * Opens a spool root, creating it (mode 0750) when absent, and checks access. Its parent
   * directory must exist.
   *
   * @throws HC_ERR_SPOOL_ROOT naming the directory and the reason when it cannot be created,
   *   is not a directory, or lacks read (or, with `write`, write) access.
   */
  static async open (root: string, opts: SpoolOpenOptions = {}): Promise<Spool> {
    const need = opts.write === true ? 'readable and writable' : 'readable'
    try {
      // Only the root itself, as the reference's os.mkdir: a missing parent is a typo to report,
      // not a tree to create (recursive mkdir also never returns under /proc on Node 20).
      await mkdir(root, { mode: SPOOL_DIR_MODE })
      await adoptDirs([root], undefined) // 0750 whatever the umask
    } catch (err) {
      const why = errnoCode(err) === 'ENOENT' ? 'its parent directory does not exist' : (err as Error).message
      if (errnoCode(err) !== 'EEXIST') throw new HC_ERR_SPOOL_ROOT(`cannot create spool root ${root}: ${why}`)
    }
    let why: string | undefined
    try {
      if ((await stat(root)).isDirectory()) await access(root, constants.R_OK | constants.X_OK | (opts.write === true ? constants.W_OK : 0))
      else why = 'it is not a directory'
    } catch (err) {
      why = (err as Error).message
    }
    if (why !== undefined) throw new HC_ERR_SPOOL_ROOT(`spool root ${root} is not a ${need} directory: ${why}`)
    return new Spool(root, opts.nowSeconds, opts.log, opts.fleet)
  }

  /**
   * The state of one file, without the `all` and service-wide files. An expired file is
   * deleted and counts as up; an unreadable one counts as down.
   *
   * @throws HC_ERR_SPOOL_NAME for an invalid key.
   */
  status (key: SpoolKey): SpoolState {
    const k = normaliseKey(key)
    return this.read(fileOf(k), k)
  }

  /**
   * {@link Spool.status} of a normalised key and its file name. An entry that is not a small
   * regular file (FIFO, symlink, device, directory, over 64 KiB) is down with a reason naming
   * the problem, never its contents (see `files.ts`).
   */
  private read (file: string, key: SpoolKey): SpoolState {
    const path = this.prefix + file
    const found = readSpoolFile(path, `spool entry ${file}`)
    if (found.kind === 'absent') return UP
    if (found.kind === 'refused') {
      return { up: false, entry: { key, file, reason: found.reason, expiration: null, creation: null, state: 'down' } }
    }
    const info = parseSpoolContents(found.text)
    if (info.expiration !== null && info.expiration < this.nowSeconds()) {
      removeIfUnchanged(path, found.text)
      return UP
    }
    return { up: false, entry: { key, file, ...info } }
  }

  /**
   * (ours) One step of a lookup: the file, then (with a fleet) this host's and the fleet-wide
   * entry for the same name, from memory. A local `down` or `maint` file ends the step alone.
   */
  private step (file: string, key: SpoolKey): SpoolState {
    const local = this.read(file, key)
    if (this.fleet === undefined || (!local.up && endsLookup(local.entry.state))) return local
    return this.fleet.merge(local, file)
  }

  /**
   * Whether a service may take traffic, as the checks ask it: `all`, then `<service>`, then
   * (with a port other than 0) `<service>:<port>` or `<service>:<host>:<port>`. The first
   * `down` or `maint` file wins and ends the lookup, as in the reference; a `drain` file is
   * kept and returned only when no narrower file is `down` or `maint` (the stronger state wins,
   * ties go to the broader file). (ours) With a fleet, each step also consults this host's and
   * the fleet-wide entry after the file (see {@link Spool.step}).
   *
   * @param port - 0 or absent for the whole service.
   * @param host - the check target; absent or 127.0.0.1 for this machine.
   * @throws HC_ERR_SPOOL_NAME for an invalid service, port or host.
   */
  isUp (service: string, port?: number, host?: string): SpoolState {
    const key = normaliseKey({ service, port, host })
    this.noticeRoot()
    // Written out rather than looped over a list of keys: this runs for every check.
    let draining: SpoolState | undefined
    let state = this.step(ALL, ALL_KEY)
    if (!state.up) {
      if (endsLookup(state.entry.state)) return state
      draining = state
    }
    state = this.step(service, key.port === undefined ? key : { service })
    if (!state.up) {
      if (endsLookup(state.entry.state)) return state
      draining ??= state
    }
    if (key.port !== undefined) {
      state = this.step(fileOf(key), key)
      if (!state.up) {
        if (endsLookup(state.entry.state)) return state
        draining ??= state
      }
    }
    return draining ?? UP
  }

  /**
   * Warns once when the root directory has gone missing, and notes its return. A missing root
   * holds no down files, as in the reference: the file lookups find none and checks fall
   * through to the real probe (`hadown` recreates it). That changes no answer, so it needs no
   * per-check precision: the root is looked at most once a second (a stat per check would
   * cost a fifth of the spool lookup). Errors other than ENOENT are left to the file lookups.
   */
  private noticeRoot (): void {
    if (this.log === undefined) return
    const now = this.nowSeconds()
    if (now - this.rootCheckedAt < 1) return
    this.rootCheckedAt = now
    let present = true
    try {
      present = statSync(this.root, { throwIfNoEntry: false }) !== undefined
    } catch {}
    if (present !== this.rootMissing) return
    this.rootMissing = !present
    if (present) this.log.info(`spool root ${this.root} is back`)
    else this.log.warn(`spool root ${this.root} is missing: no service counts as down until it is recreated (hadown recreates it)`)
  }

  /**
   * Marks a key up by removing its file (absent is fine); also removes temp files that killed
   * writers left behind (see `files.ts`).
   *
   * @throws HC_ERR_SPOOL_NAME for an invalid key; HC_ERR_SPOOL_WRITE when the file cannot be removed.
   */
  async up (key: SpoolKey): Promise<void> {
    const file = spoolFileName(key)
    try {
      await unlink(join(this.root, file))
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw new HC_ERR_SPOOL_WRITE(`cannot remove spool file ${join(this.root, file)}: ${(err as Error).message}`)
    }
    await removeStaleTempFiles(this.root)
  }

  /**
   * Marks a key down (or, with `state`, drain or maint). Re-downing with the same reason and
   * state keeps the original `creation`. Written atomically; recreates the spool root if it
   * was removed.
   *
   * @returns the entry as written.
   * @throws HC_ERR_SPOOL_NAME for an invalid key; HC_ERR_SPOOL_WRITE when the file cannot be
   *   written (the previous file, if any, is left intact and no temp file remains), or would be
   *   larger than readers accept (64 KiB).
   */
  async down (key: SpoolKey, opts: DownOptions): Promise<SpoolEntry> {
    const file = spoolFileName(key)
    const state = opts.state ?? 'down'
    let creation = opts.creation
    if (creation === undefined) {
      const previous = this.status(key)
      creation = !previous.up && previous.entry.reason === opts.reason && previous.entry.state === state && previous.entry.creation !== null
        ? previous.entry.creation
        : this.nowSeconds()
    }
    const info: SpoolInfo = { reason: opts.reason, expiration: opts.expiration ?? null, creation, state }
    const text = formatSpoolContents(info)
    if (Buffer.byteLength(text) > MAX_SPOOL_FILE_BYTES) {
      throw new HC_ERR_SPOOL_WRITE(`cannot write spool file ${file}: the reason is too long (readers accept files of at most ${MAX_SPOOL_FILE_BYTES} bytes)`)
    }
    // '~' is not allowed in spool names, so a temp file is never mistaken for an entry.
    await writeFileAtomic(this.root, file, text)
    return { key: normaliseKey(key), file, ...info }
  }

  /**
   * Every down entry in the spool (including `all`), sorted by file name; a missing root holds none.
   *
   * @throws HC_ERR_SPOOL_ROOT when the root cannot be listed (see {@link spoolRootError}).
   */
  async listDown (): Promise<SpoolEntry[]> {
    let keys: SpoolKey[]
    try {
      keys = await readSpoolKeys(this.root)
    } catch (err) {
      throw spoolRootError(this.root, err)
    }
    const entries: SpoolEntry[] = []
    for (const key of keys) {
      const state = this.status(key)
      if (!state.up) entries.push(state.entry)
    }
    return entries
  }
}
