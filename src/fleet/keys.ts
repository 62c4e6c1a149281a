/**
 * (ours) Fleet keys and values in etcd: which key names which spool entry, and what a value
 * means. Pure functions, no I/O; the watcher (`watcher.ts`), the in-memory view (`view.ts`)
 * and the tools' writes (`store.ts`) share them.
 *
 * Layout under the prefix (`fleet_prefix`, default `/hacheck/`), `<name>` being a spool file
 * name (`all`, `web`, `web:8080`, `web:10.0.0.5:8080`):
 *
 * | key                              | applies to     | value                                      |
 * |----------------------------------|----------------|--------------------------------------------|
 * | `<prefix>spool/<name>`           | every host     | a spool file's JSON plus `set_by`           |
 * | `<prefix>hosts/<host>/spool/<name>` | that host   | the same                                   |
 * | `<prefix>weight/<name>`          | every host     | a weight file's JSON plus `set_by`          |
 * | `<prefix>hosts/<host>/weight/<name>` | that host  | the same                                   |
 *
 * Values are hostile (anyone with write access to the prefix writes them): a value is read only
 * up to {@link MAX_FLEET_VALUE_BYTES}; names go through the spool's own validation; a spool value
 * that is too large or not JSON is down (fail closed, as the local spool reads a file it cannot
 * parse); a weight value that cannot be parsed makes the weight lookup fail (the agent answers
 * down, as for a bad weight file); a key whose name is not a spool name is ignored. Reasons are
 * cut at {@link MAX_REASON_LENGTH} characters, so what every host keeps in memory per key is
 * small whatever was written.
 */
import { FLEET_HOST_PATTERN } from '../config/fleet.js'
import { MAX_REASON_LENGTH } from '../spool/change.js'
import { cleanReason, parseSpoolContents, parseSpoolFileName, spoolFileName, type SpoolInfo, type SpoolKey, type SpoolStateName } from '../spool/format.js'
import { isValidWeight, MAX_WEIGHT } from '../spool/weight.js'

const HOST_RE = new RegExp(FLEET_HOST_PATTERN)

/** Largest value read, bytes: the bound the spool applies to its files. */
export const MAX_FLEET_VALUE_BYTES = 64 * 1024
/** Longest `set_by` kept, characters. */
export const MAX_SET_BY_LENGTH = 256

/** Every host (`fleet`) or one host (`host`). */
export type FleetScope = 'fleet' | 'host'
/** A spool entry or a weight. */
export type FleetKind = 'spool' | 'weight'

/** Whom a fleet write is for: every host, or one named host. */
export type FleetTarget = { scope: 'fleet' } | { scope: 'host', host: string }

/** What a fleet key names. */
export interface FleetKeyName {
  scope: FleetScope
  kind: FleetKind
  /** The host of a `host` key. */
  host: string | undefined
  /** The spool file name. */
  file: string
  /** The spool key the name stands for, normalised. */
  key: SpoolKey
}

/** A spool value read from etcd: the spool file's fields plus who set it. */
export interface FleetSpoolValue extends SpoolInfo {
  /** `user@host` of the writer, as the writer says; null when absent. */
  setBy: string | null
}

/** A weight value read from etcd. */
export interface FleetWeightValue {
  /** Percent of the configured weight, integer 0-256. */
  weight: number
  creation: number | null
  setBy: string | null
}

/** A parse result: the value, and what was wrong with the input (for a warning), if anything. */
export interface Parsed<T> {
  value: T
  problem: string | null
}

/** The prefix every key for `target` and `kind` starts with. */
export function fleetKindPrefix (prefix: string, target: FleetTarget, kind: FleetKind): string {
  return target.scope === 'fleet' ? `${prefix}${kind}/` : `${prefix}hosts/${target.host}/${kind}/`
}

/**
 * The etcd key for a spool key.
 *
 * @throws HC_ERR_SPOOL_NAME for an invalid spool key.
 */
export function fleetKey (prefix: string, target: FleetTarget, kind: FleetKind, key: SpoolKey): string {
  return fleetKindPrefix(prefix, target, kind) + spoolFileName(key)
}

/**
 * The key ranges a host reads and watches: the fleet-wide entries, the fleet-wide weights, and
 * its own subtree. Never another host's: a host's traffic from etcd does not grow with the
 * number of hosts that have entries.
 */
export function watchPrefixes (prefix: string, host: string): string[] {
  return [`${prefix}spool/`, `${prefix}weight/`, `${prefix}hosts/${host}/`]
}

function kindOf (text: string): FleetKind | null {
  return text === 'spool' || text === 'weight' ? text : null
}

/**
 * What an etcd key names, or null for a key that is not a fleet entry: outside the prefix, an
 * unknown subtree, or a name that is not a spool file name (such keys are ignored).
 */
export function parseFleetKey (prefix: string, key: string): FleetKeyName | null {
  if (!key.startsWith(prefix)) return null
  const parts = key.slice(prefix.length).split('/')
  let scope: FleetScope
  let host: string | undefined
  let kind: FleetKind | null
  let file: string
  if (parts.length === 2) {
    scope = 'fleet'
    kind = kindOf(parts[0] as string)
    file = parts[1] as string
  } else if (parts.length === 4 && parts[0] === 'hosts') {
    scope = 'host'
    host = parts[1] as string
    kind = kindOf(parts[2] as string)
    file = parts[3] as string
    if (!HOST_RE.test(host)) return null
  } else {
    return null
  }
  if (kind === null) return null
  const spoolKey = parseSpoolFileName(file)
  if (spoolKey === null) return null
  return { scope, kind, host, file, key: spoolKey }
}

function setByOf (value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null
  // Cleaned as reasons are: it is shown in tab-separated tool output and logs.
  return cleanReason(value.slice(0, MAX_SET_BY_LENGTH))
}

function textOf (value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
}

/**
 * Reads a spool value (`bytes`: its size, when the value itself was not kept). Never throws: a value over {@link MAX_FLEET_VALUE_BYTES} is down with a
 * reason saying so, a value that is not a JSON object is a legacy entry (its text is the reason,
 * down, no expiry), as the local spool reads such files; both report a problem to warn about.
 */
export function parseFleetSpoolValue (value: Uint8Array, bytes = value.byteLength): Parsed<FleetSpoolValue> {
  if (bytes > MAX_FLEET_VALUE_BYTES) {
    const problem = `value of ${bytes} bytes is over the ${MAX_FLEET_VALUE_BYTES}-byte bound`
    return { value: { reason: `fleet entry unreadable (${problem}): down until fixed`, expiration: null, creation: null, state: 'down', setBy: null }, problem }
  }
  const text = textOf(value)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {}
  const isObject = doc !== null && typeof doc === 'object' && !Array.isArray(doc)
  const info = parseSpoolContents(text)
  // Kept in memory on every host for as long as the key exists: bounded like a remote change's.
  if (info.reason.length > MAX_REASON_LENGTH) info.reason = `${info.reason.slice(0, MAX_REASON_LENGTH)}... [truncated]`
  return {
    value: { ...info, setBy: isObject ? setByOf((doc as Record<string, unknown>).set_by) : null },
    problem: isObject ? null : 'value is not a JSON object: read as a legacy entry (down, the text as its reason)'
  }
}

/**
 * Reads a weight value (`bytes`: its size, when the value itself was not kept); null with a
 * problem when it is too large or not `{"weight": 0-256}`.
 */
export function parseFleetWeightValue (value: Uint8Array, bytes = value.byteLength): Parsed<FleetWeightValue | null> {
  if (bytes > MAX_FLEET_VALUE_BYTES) {
    return { value: null, problem: `value of ${bytes} bytes is over the ${MAX_FLEET_VALUE_BYTES}-byte bound` }
  }
  let doc: unknown
  try {
    doc = JSON.parse(textOf(value))
  } catch {}
  const fields = (doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? doc : {}) as Record<string, unknown>
  if (!isValidWeight(fields.weight)) return { value: null, problem: `weight must be an integer 0-${MAX_WEIGHT}` }
  const creation = typeof fields.creation === 'number' && Number.isFinite(fields.creation) ? fields.creation : null
  return { value: { weight: fields.weight, creation, setBy: setByOf(fields.set_by) }, problem: null }
}

/** A spool value as the tools write it: the spool file's fields, `state` always, `set_by`, and `forced` when true. */
export function formatFleetSpoolValue (info: SpoolInfo, setBy: string, forced = false): string {
  const state: SpoolStateName = info.state
  // `forced`: written with --force past a disruption budget (docs/fleet.md "Disruption budgets").
  return JSON.stringify({ reason: info.reason, expiration: info.expiration, creation: info.creation, state, set_by: setBy, ...(forced ? { forced: true } : {}) })
}

/** A weight value as the tools write it. */
export function formatFleetWeightValue (weight: number, creation: number | null, setBy: string): string {
  return JSON.stringify({ weight, creation, set_by: setBy })
}
