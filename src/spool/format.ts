/**
 * Spool names and contents, as Yelp's hacheck writes them: which file a key names, what a
 * file's text means, and how a down answer reads. Pure functions, no I/O; `spool.ts` does the
 * reading and writing and re-exports all of this.
 *
 * Imports no Fastify.
 */
import { isValidServiceName, MAX_FILE_NAME_BYTES, MAX_SERVICE_NAME_LENGTH } from '../check-url.js'
import { HC_ERR_SPOOL_NAME } from '../errors.js'

// Service names are part of the check-URL grammar; the spool names its files after them.
export { isValidServiceName, MAX_FILE_NAME_BYTES, MAX_SERVICE_NAME_LENGTH }

/** The host a spool key means when it names none: checks of this machine. */
export const LOCAL_HOST = '127.0.0.1'
/** The file that takes the whole host down. */
export const ALL = 'all'
/** Where hacheck keeps its spool unless told otherwise (docs/tools.md "Server command"). */
export const DEFAULT_SPOOL_ROOT = '/var/spool/hacheck'

const HOST_RE = /^[a-zA-Z0-9._:%-]+$/

/** What a spool file names: a service, optionally narrowed to one port (and one host). */
export interface SpoolKey {
  service: string
  /** 1-65535; absent or 0 means the whole service. */
  port?: number | undefined
  /** Absent or {@link LOCAL_HOST} means this machine. Only meaningful with a port. */
  host?: string | undefined
}

/**
 * (ours) What a spool file asserts. `down`: out of rotation (503), the reference's only state.
 * `drain`: no new traffic, persistent sessions kept (HTTP 404 for `http-check disable-on-404`,
 * agent `drain`). `maint`: out of rotation as an admin action (503, agent `maint`).
 */
export type SpoolStateName = 'down' | 'drain' | 'maint'

/** Every {@link SpoolStateName}. */
export const SPOOL_STATES: readonly SpoolStateName[] = ['down', 'drain', 'maint']

/**
 * (ours) Whether an entry in this state ends a spool lookup: `down` and `maint` take the
 * service out at once, so the first one found (broadest first: `all`, the service, its port;
 * at each step the local file, then this host's fleet key, then the fleet-wide one) is the
 * answer. A `drain` entry is kept while the lookup goes on, and is the answer only when
 * nothing after it is `down` or `maint` (among drains, the first found). Every lookup (the
 * spool's, the fleet view's, the status page's) follows this rule; what each state then
 * answers is `checks/result.ts`.
 */
export function endsLookup (state: SpoolStateName): boolean {
  return state !== 'drain'
}

/** The contents of a spool file. Times are unix seconds (float). */
export interface SpoolInfo {
  reason: string
  expiration: number | null
  creation: number | null
  /** (ours) `down` unless the file says `drain` or `maint`. */
  state: SpoolStateName
}

/**
 * (ours) Where an entry comes from: this host's spool directory (`local`), a fleet-wide etcd
 * key (`fleet`), or an etcd key for this host alone (`host`). See docs/fleet.md.
 */
export type SpoolSource = 'local' | 'fleet' | 'host'

/** A down assertion read from the spool. */
export interface SpoolEntry extends SpoolInfo {
  /** The file's key, normalised (port 0 dropped, local host dropped). */
  key: SpoolKey
  /** The file name inside the spool root (for fleet entries: the spool name in the etcd key). */
  file: string
  /** (ours) Where the entry comes from; absent means `local`. */
  source?: SpoolSource
  /** (ours) Fleet entries: `user@host` of the writer, when the value says. */
  setBy?: string | null
}

/** The answer of a lookup: up, or down with the entry that says so. */
export type SpoolState = { up: true } | { up: false, entry: SpoolEntry }

/** True for a host (name, IPv4 or IPv6 address) that can be part of a spool file name. */
export function isValidHost (host: string): boolean {
  return HOST_RE.test(host) && host.length <= 255
}

/**
 * A key in canonical form: port 0 dropped (whole service), host 127.0.0.1 dropped (this machine),
 * host ignored without a port.
 *
 * @throws HC_ERR_SPOOL_NAME when the service, port or host is invalid, or when the file name
 *   `<service>:<host>:<port>` would be longer than {@link MAX_FILE_NAME_BYTES}.
 */
export function normaliseKey (key: SpoolKey): SpoolKey {
  if (!isValidServiceName(key.service)) {
    const why = key.service.length > MAX_SERVICE_NAME_LENGTH
      ? `is longer than ${MAX_SERVICE_NAME_LENGTH} characters`
      : 'must match [.a-zA-Z0-9_-]+ and not be . or ..'
    throw new HC_ERR_SPOOL_NAME(`invalid service name ${JSON.stringify(key.service.slice(0, 64))}${key.service.length > 64 ? '...' : ''}: ${why}`)
  }
  const port = key.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new HC_ERR_SPOOL_NAME(`invalid port ${String(key.port)}: must be an integer 0-65535`)
  }
  if (port === 0) return { service: key.service }
  const host = key.host === undefined || key.host === '' || key.host === LOCAL_HOST ? undefined : key.host
  if (host === undefined) return { service: key.service, port }
  if (!isValidHost(host)) throw new HC_ERR_SPOOL_NAME(`invalid host ${JSON.stringify(host.slice(0, 64))}`)
  const length = key.service.length + host.length + String(port).length + 2
  if (length > MAX_FILE_NAME_BYTES) {
    throw new HC_ERR_SPOOL_NAME(`service ${key.service.slice(0, 64)}${key.service.length > 64 ? '...' : ''} on host ${host.slice(0, 64)}${host.length > 64 ? '...' : ''}: the spool file name <service>:<host>:<port> would be ${length} bytes, more than ${MAX_FILE_NAME_BYTES}`)
  }
  return { service: key.service, port, host }
}

/**
 * The file name for a key: `svc`, `svc:port` or `svc:host:port`.
 *
 * @throws HC_ERR_SPOOL_NAME when the service, port or host is invalid.
 */
export function spoolFileName (key: SpoolKey): string {
  return fileOf(normaliseKey(key))
}

/** The file name of a key already normalised by {@link normaliseKey} (no validation). */
export function fileOf (k: SpoolKey): string {
  if (k.port === undefined) return k.service
  return k.host === undefined ? `${k.service}:${k.port}` : `${k.service}:${k.host}:${k.port}`
}

/** The key a file name stands for, or `null` for a file that is not a spool entry (temp files). */
export function parseSpoolFileName (file: string): SpoolKey | null {
  const first = file.indexOf(':')
  if (first === -1) return isValidServiceName(file) ? { service: file } : null
  const last = file.lastIndexOf(':')
  const service = file.slice(0, first)
  const portText = file.slice(last + 1)
  const host = first === last ? undefined : file.slice(first + 1, last)
  if (!/^[0-9]{1,5}$/.test(portText)) return null
  try {
    const key = normaliseKey({ service, port: Number(portText), host })
    return spoolFileName(key) === file ? key : null
  } catch {
    return null
  }
}

function finiteOrNull (value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

function stateOf (value: unknown): SpoolStateName {
  // An unknown state (a typo, a newer writer) is read as down: fail closed.
  return value === 'drain' || value === 'maint' ? value : 'down'
}

/**
 * Characters no reason may carry to an output: Unicode controls (C0 with tab and line feeds,
 * DEL, C1 such as U+0085), format characters (bidi overrides such as U+202E, zero-width
 * characters), line and paragraph separators U+2028/U+2029, and lone surrogates. The tools print
 * reasons on one tab-separated line, HAProxy reads the agent's reply to the first line feed,
 * and terminals obey escape sequences.
 */
export const UNSAFE_IN_REASON = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u
const UNSAFE_IN_REASON_ALL = new RegExp(UNSAFE_IN_REASON.source, 'gu')

/**
 * The one cleaning of a reason (and of `set_by`) for every output: HTTP bodies, agent replies,
 * the tools' lines, the status page and logs all show reasons cleaned by it, because every
 * reason read from a spool file or a fleet value passes here on its way in. Each character of
 * {@link UNSAFE_IN_REASON} becomes its escape `\u{XXXX}` (visible, one line, never obeyed);
 * anything else is kept as is.
 */
export function cleanReason (text: string): string {
  return UNSAFE_IN_REASON.test(text)
    ? text.replace(UNSAFE_IN_REASON_ALL, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}}`)
    : text
}

/**
 * Parses a spool file's contents. JSON objects give their fields; anything else is a legacy
 * file whose whole content is the reason, with no expiry (so it stays down: fail closed).
 * `state` is `down` unless the object says `drain` or `maint`. The reason is cleaned
 * ({@link cleanReason}).
 */
export function parseSpoolContents (text: string): SpoolInfo {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = undefined
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { reason: cleanReason(text), expiration: null, creation: null, state: 'down' }
  }
  const fields = doc as Record<string, unknown>
  const reason = typeof fields.reason === 'string'
    ? fields.reason
    : fields.reason === undefined || fields.reason === null ? '' : JSON.stringify(fields.reason)
  return { reason: cleanReason(reason), expiration: finiteOrNull(fields.expiration), creation: finiteOrNull(fields.creation), state: stateOf(fields.state) }
}

/**
 * Serialises spool contents as the reference writes them; `state` is added only when it is not
 * `down`, so a plain down file is exactly the reference's.
 */
export function formatSpoolContents (info: SpoolInfo): string {
  const base = { reason: info.reason, expiration: info.expiration, creation: info.creation }
  return JSON.stringify(info.state === 'down' ? base : { ...base, state: info.state })
}

/** Python's `'%f' % x`: six decimals. */
export function pyFloat (x: number): string {
  return x.toFixed(6)
}

/**
 * The body of a spool answer, as the reference builds it:
 * `Service <name> in <state> state[ since <creation>][ until <expiration>][: <reason>]`, where
 * `<state>` is `down` (the reference's only one), `drain` or `maint`.
 */
export function describeDown (entry: SpoolEntry): string {
  let text = `Service ${entry.key.service} in ${entry.state} state`
  if (entry.creation !== null) text += ` since ${pyFloat(entry.creation)}`
  if (entry.expiration !== null) text += ` until ${pyFloat(entry.expiration)}`
  if (entry.reason !== '') text += `: ${entry.reason}`
  return text
}
