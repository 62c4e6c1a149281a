/**
 * (ours) Weights: a percentage of the server's configured weight that the agent-check answer
 * carries (`ready up 50%`), set with `haweight <svc> <percent>`.
 *
 * Where they live, and why: in the subdirectory `@weight` of the spool root, one file per spool
 * key with the spool's names (`all`, `web`, `web:8080`, `web:10.0.0.5:8080`), contents
 * `{"weight": <0-256>, "creation": <unix seconds>}`. Not in the spool files themselves: a
 * weight on a host that is up would need a file named `web`, and the reference (and any
 * script reading the spool) reads every such file as down. The reference looks only at `all`,
 * `<svc>` and `<svc>:<port>`; its `hashowdowned` lists the root and opens each entry, and
 * opening a directory fails with an IOError it reads as "up", so `@weight` is never shown.
 * `@` cannot occur in a service name (`[.a-zA-Z0-9_-]+`) and the name has no `:` (which the
 * reference's listing would try to parse as a port), so it never collides with a spool file.
 *
 * Lookup: the lowest of the `all`, `<svc>` and `<svc>:<port>` weights that are set: any level
 * can lower the weight, none can raise another's. A weight file that cannot be read or parsed
 * throws (the agent answers down: fail closed). Files are read as spool entries are (`files.ts`):
 * synchronously, without following symlinks or blocking, at most 64 KiB, so a FIFO under
 * `@weight/` can hold neither the event loop nor a thread-pool thread.
 */
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { HC_ERR_SPOOL_WEIGHT, HC_ERR_SPOOL_WRITE, errnoCode } from '../errors.js'
import { writeFileAtomic } from './atomic-file.js'
import { readSpoolFile, removeStaleTempFiles } from './files.js'
import type { FleetView } from '../fleet/view.js'
import { ALL, fileOf, normaliseKey, readSpoolKeys, spoolFileName, type Spool, type SpoolKey, type SpoolSource } from './spool.js'

/** The weight directory's name inside the spool root. */
export const WEIGHT_DIR = '@weight'
/** Highest weight percentage (HAProxy's server weights are 0-256). */
export const MAX_WEIGHT = 256

/** A weight read from the spool. */
export interface WeightEntry {
  /** The file's key, normalised. */
  key: SpoolKey
  /** The file name inside {@link WEIGHT_DIR}. */
  file: string
  /** Percent of the configured weight, integer 0-256. */
  weight: number
  /** Unix seconds when it was set; null when the file does not say. */
  creation: number | null
  /** (ours) Where the weight comes from; absent means `local` (see {@link SpoolSource}). */
  source?: SpoolSource
  /** (ours) Fleet weights: `user@host` of the writer, when the value says. */
  setBy?: string | null
}

/** True for an integer 0-256. */
export function isValidWeight (n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_WEIGHT
}

/**
 * Parses a weight file's contents.
 *
 * @throws HC_ERR_SPOOL_WEIGHT when it is not a JSON object with an integer `weight` 0-256.
 */
export function parseWeightContents (text: string, file = 'weight file'): { weight: number, creation: number | null } {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = undefined
  }
  const fields = (doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? doc : {}) as Record<string, unknown>
  if (!isValidWeight(fields.weight)) throw new HC_ERR_SPOOL_WEIGHT(`invalid weight file ${file}: weight must be an integer 0-${MAX_WEIGHT}`)
  const creation = typeof fields.creation === 'number' && Number.isFinite(fields.creation) ? fields.creation : null
  return { weight: fields.weight, creation }
}

/** The weights of one spool. Holds no state beyond the spool's root and clock. */
export class SpoolWeights {
  /** The spool root: whose owner and group the weight files take (`ownership.ts`). */
  readonly root: string
  readonly dir: string
  private readonly nowSeconds: () => number
  /** (ours) The fleet's weights, consulted by {@link SpoolWeights.effective} beside the files. */
  private readonly fleet: FleetView | undefined

  constructor (spool: Pick<Spool, 'root' | 'nowSeconds'> & { fleet?: FleetView | undefined }) {
    this.root = spool.root
    this.dir = join(spool.root, WEIGHT_DIR)
    this.nowSeconds = spool.nowSeconds
    this.fleet = spool.fleet
  }

  /**
   * The weight set for exactly this key, or null.
   *
   * @throws HC_ERR_SPOOL_NAME for an invalid key; HC_ERR_SPOOL_WEIGHT when the file exists but
   *   cannot be read or parsed.
   */
  async get (key: SpoolKey): Promise<WeightEntry | null> {
    const file = spoolFileName(key)
    const found = readSpoolFile(join(this.dir, file), `weight file ${WEIGHT_DIR}/${file}`)
    // ENOTDIR: a stray file named @weight holds no weights.
    if (found.kind === 'absent' || (found.kind === 'refused' && found.code === 'ENOTDIR')) return null
    if (found.kind === 'refused') throw new HC_ERR_SPOOL_WEIGHT(found.reason)
    return { key: normaliseKey(key), file, ...parseWeightContents(found.text, `${WEIGHT_DIR}/${file}`) }
  }

  /**
   * Sets the weight of a key (atomically; creates the directory).
   *
   * @throws HC_ERR_SPOOL_WEIGHT for a weight that is not an integer 0-256; HC_ERR_SPOOL_NAME
   *   for an invalid key; HC_ERR_SPOOL_WRITE when the file cannot be written.
   */
  async set (key: SpoolKey, weight: number): Promise<WeightEntry> {
    if (!isValidWeight(weight)) throw new HC_ERR_SPOOL_WEIGHT(`weight must be an integer 0-${MAX_WEIGHT}, got ${String(weight)}`)
    const file = spoolFileName(key)
    const creation = this.nowSeconds()
    await writeFileAtomic(this.dir, file, JSON.stringify({ weight, creation }), this.root)
    return { key: normaliseKey(key), file, weight, creation }
  }

  /**
   * Removes a key's weight (absent is fine). The agent then stops sending a weight, and
   * HAProxy keeps the last one it was sent.
   *
   * @throws HC_ERR_SPOOL_NAME for an invalid key; HC_ERR_SPOOL_WRITE when it cannot be removed.
   */
  async clear (key: SpoolKey): Promise<void> {
    const file = spoolFileName(key)
    try {
      await unlink(join(this.dir, file))
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return
      throw new HC_ERR_SPOOL_WRITE(`cannot remove weight file ${join(this.dir, file)}: ${(err as Error).message}`)
    }
    await removeStaleTempFiles(this.dir)
  }

  /**
   * The weight that applies to a service: the lowest of `all`, `<service>` and (with a port
   * other than 0) `<service>:<port>` / `<service>:<host>:<port>`; null when none is set.
   * (ours) With a fleet, its weights for the same names count too: the lowest of all wins.
   *
   * @throws HC_ERR_SPOOL_NAME for an invalid key; HC_ERR_SPOOL_WEIGHT for an unreadable file
   *   or fleet value.
   */
  async effective (service: string, port?: number, host?: string): Promise<WeightEntry | null> {
    const key = normaliseKey({ service, port, host })
    const keys: SpoolKey[] = [{ service: ALL }, { service }]
    if (key.port !== undefined) keys.push(key)
    let lowest: WeightEntry | null = null
    for (const k of keys) {
      const entry = await this.get(k)
      if (entry !== null && (lowest === null || entry.weight < lowest.weight)) lowest = entry
    }
    if (this.fleet !== undefined) {
      for (const k of keys) {
        const entry = this.fleet.weight(fileOf(k))
        if (entry !== null && (lowest === null || entry.weight < lowest.weight)) lowest = entry
      }
    }
    return lowest
  }

  /**
   * Every weight set, sorted by file name; temp files and junk are skipped.
   *
   * @throws HC_ERR_SPOOL_WEIGHT for an unreadable file.
   */
  async list (): Promise<WeightEntry[]> {
    let keys: SpoolKey[]
    try {
      keys = await readSpoolKeys(this.dir)
    } catch (err) {
      throw new HC_ERR_SPOOL_WEIGHT(`cannot list ${this.dir}: ${(err as Error).message}`)
    }
    const entries: WeightEntry[] = []
    for (const key of keys) {
      const entry = await this.get(key)
      if (entry !== null) entries.push(entry)
    }
    return entries
  }
}
