/**
 * (ours) What each host publishes about its answers, under `<prefix>status/<service>/<host>`
 * (docs/fleet.md "Fleet status"): the record's format, its key, and a reader that never throws.
 *
 * Records are hostile to readers: anyone with write access to the prefix can put anything
 * there (a huge value, text that is not JSON, a record naming another host). A reader keeps at
 * most {@link MAX_STATUS_VALUE_BYTES} of a value, and {@link parseStatusRecord} turns anything
 * it cannot take into an `invalid` record with the reason, so a bad record is shown, never
 * trusted and never fatal. Reasons are cleaned like spool reasons (`cleanReason`) and cut at
 * {@link MAX_STATUS_REASON_LENGTH} characters.
 */
import { FLEET_HOST_PATTERN } from '../config/fleet.js'
import { cleanReason, parseSpoolFileName } from '../spool/format.js'

const HOST_RE = new RegExp(FLEET_HOST_PATTERN)

/** Largest status value a reader takes, bytes; a record is about 200 bytes. */
export const MAX_STATUS_VALUE_BYTES = 2048
/** Longest reason published, characters. */
export const MAX_STATUS_REASON_LENGTH = 200

/** What a host answers for a service, as published. */
export type StatusState = 'up' | 'down' | 'drain' | 'maint' | 'failing'
/** What a reader makes of a record: the published state, or `invalid` when it could not read it. */
export type ReadState = StatusState | 'invalid'

const STATES: ReadonlySet<string> = new Set<StatusState>(['up', 'down', 'drain', 'maint', 'failing'])

/** One host's record for one service. Times are unix seconds. */
export interface StatusRecord {
  state: StatusState
  /** The HTTP code answered (0 when only spool state is known, no answer yet). */
  code: number
  /** HAProxy check status of the answer (`L7OK`, `L7STS`, ...), or '' when none. */
  check_status: string
  /** Cleaned, at most {@link MAX_STATUS_REASON_LENGTH} characters. */
  reason: string
  /** Since when the state has been what it is. */
  since: number
  /** The agent weight in percent, or null when none is set. */
  weight: number | null
  /** When the host last confirmed the record (written at each change and each full publish). */
  confirmed: number
}

/** A record as a reader shows it: what the key says plus the record, or why it is invalid. */
export interface ReadStatus {
  service: string
  host: string
  state: ReadState
  code: number
  check_status: string
  reason: string
  since: number | null
  weight: number | null
  confirmed: number | null
  /** The etcd mod revision of the record. */
  mod_revision: number
}

/** The prefix every status record lives under. */
export function statusPrefix (prefix: string): string {
  return `${prefix}status/`
}

/** The key of one host's record for one service. */
export function statusKey (prefix: string, service: string, host: string): string {
  return `${statusPrefix(prefix)}${service}/${host}`
}

/** The service and host a status key names, or null when the key is not one. */
export function parseStatusKey (prefix: string, key: string): { service: string, host: string } | null {
  const base = statusPrefix(prefix)
  if (!key.startsWith(base)) return null
  const parts = key.slice(base.length).split('/')
  if (parts.length !== 2) return null
  const [service, host] = parts as [string, string]
  const spoolKey = parseSpoolFileName(service)
  if (spoolKey === null || service === 'all' || !HOST_RE.test(host)) return null
  return { service, host }
}

/** Most bytes of a published reason: with the other fields, a record stays far below {@link MAX_STATUS_VALUE_BYTES}. */
const MAX_STATUS_REASON_BYTES = 1024

/** A reason fit for a record: cut, cleaned (escapes can lengthen it), and cut again to {@link MAX_STATUS_REASON_BYTES}. */
export function statusReason (text: string): string {
  const cut = text.length > MAX_STATUS_REASON_LENGTH ? `${text.slice(0, MAX_STATUS_REASON_LENGTH - 3)}...` : text
  let clean = cleanReason(cut)
  while (Buffer.byteLength(clean) > MAX_STATUS_REASON_BYTES) clean = clean.slice(0, clean.length - 32)
  return clean
}

/** A record's value as a publisher writes it. */
export function formatStatusRecord (record: StatusRecord): string {
  return JSON.stringify(record)
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * Reads a record for the key's service and host. Never throws: a value over
 * {@link MAX_STATUS_VALUE_BYTES} bytes (`bytes`: its size when the value itself was not kept),
 * text that is not a JSON object, or fields of the wrong type give `state: 'invalid'` with the
 * reason why.
 */
export function parseStatusRecord (service: string, host: string, value: Uint8Array, modRevision: number, bytes = value.byteLength): ReadStatus {
  const invalid = (why: string): ReadStatus => ({ service, host, state: 'invalid', code: 0, check_status: '', reason: `invalid record: ${why}`, since: null, weight: null, confirmed: null, mod_revision: modRevision })
  if (bytes > MAX_STATUS_VALUE_BYTES) return invalid(`value of ${bytes} bytes is over the ${MAX_STATUS_VALUE_BYTES}-byte bound`)
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'))
  } catch {
    return invalid('not JSON')
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return invalid('not a JSON object')
  const f = doc as Record<string, unknown>
  if (typeof f.state !== 'string' || !STATES.has(f.state)) return invalid('state is not one of up, down, drain, maint, failing')
  if (!Number.isInteger(f.code) || (f.code as number) < 0 || (f.code as number) > 999) return invalid('code is not an HTTP code')
  if (!finite(f.since) || !finite(f.confirmed)) return invalid('since and confirmed must be unix seconds')
  const weight = finite(f.weight) && Number.isInteger(f.weight) && f.weight >= 0 && f.weight <= 256 ? f.weight : null
  return {
    service,
    host,
    state: f.state as StatusState,
    code: f.code as number,
    check_status: typeof f.check_status === 'string' ? statusReason(f.check_status.slice(0, 16)) : '',
    reason: typeof f.reason === 'string' ? statusReason(f.reason) : '',
    since: f.since,
    weight,
    confirmed: f.confirmed,
    mod_revision: modRevision
  }
}
