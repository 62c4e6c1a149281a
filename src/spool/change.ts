/**
 * The form of a remote spool change (docs/security.md "Remote spool changes"): `status=up|down`, `reason` (required
 * for down), `expiration` and `creation` (unix seconds), from the query string and/or an
 * urlencoded body. (ours) With `status=down`, `state=down|drain|maint` says which spool state
 * to write (default down; see `format.ts`). Validated field by field; every error names its field.
 *
 * Imports no Fastify.
 */
import { HC_ERR_BAD_FIELD } from '../errors.js'
import { SPOOL_STATES, UNSAFE_IN_REASON, type SpoolStateName } from './format.js'

/** A validated change. Times are unix seconds. */
export type SpoolChange =
  | { status: 'up' }
  | { status: 'down', reason: string, expiration: number | null, creation: number | null, state: SpoolStateName }

/** The longest reason accepted (the form body is at most 4 KiB anyway). */
export const MAX_REASON_LENGTH = 1024

/**
 * Why a reason is refused at write, or undefined when it is acceptable: no characters of
 * `UNSAFE_IN_REASON` (controls, line breaks, bidi overrides; see `format.ts`), at most
 * {@link MAX_REASON_LENGTH} characters. Remote POST and the tools' `-r` both ask it.
 *
 * @param field - how messages name the reason (`field reason`, `--reason`).
 */
export function reasonProblem (reason: string, field = 'field reason'): string | undefined {
  const bad = UNSAFE_IN_REASON.exec(reason)
  if (bad !== null) {
    const hex = (bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')
    return `${field} must not contain control characters (U+${hex} at position ${bad.index})`
  }
  if (reason.length > MAX_REASON_LENGTH) return `${field} is longer than ${MAX_REASON_LENGTH} characters`
  return undefined
}

const FIELDS = ['status', 'reason', 'expiration', 'creation', 'state'] as const
type Field = typeof FIELDS[number]

/** A parsed query string or form body: each name to one value or several. */
export type FormSource = Readonly<Record<string, string | readonly string[] | undefined>> | null | undefined

/**
 * Collects the known fields from several sources (query string, body). Unknown fields are
 * ignored, as the reference ignores them.
 *
 * @throws HC_ERR_BAD_FIELD (400) when a field is given more than once, anywhere.
 */
export function collectFields (...sources: FormSource[]): Partial<Record<Field, string>> {
  const out: Partial<Record<Field, string>> = {}
  for (const source of sources) {
    if (source === null || source === undefined || typeof source !== 'object') continue
    for (const field of FIELDS) {
      if (!Object.hasOwn(source, field)) continue
      const value = source[field]
      const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value : []
      if (values.length === 0) continue
      if (values.length > 1 || out[field] !== undefined) throw new HC_ERR_BAD_FIELD(`field ${field} is given more than once`)
      out[field] = values[0]
    }
  }
  return out
}

function time (field: Field, value: string | undefined): number | null {
  if (value === undefined) return null
  if (!/^[0-9]{1,15}(\.[0-9]{0,9})?$/.test(value)) {
    throw new HC_ERR_BAD_FIELD(`field ${field} must be a unix time in seconds, got ${JSON.stringify(value.slice(0, 64))}`)
  }
  return Number(value)
}

/**
 * Validates a change.
 *
 * @throws HC_ERR_BAD_FIELD (400): `status must be up or down`; `field reason is required for
 *   status=down`; a reason refused by {@link reasonProblem} (control, format and separator
 *   characters, or longer than {@link MAX_REASON_LENGTH}); a time that is not a non-negative
 *   number of seconds; a `state` other than down, drain or maint, or given with status=up.
 */
export function parseSpoolChange (fields: Partial<Record<Field, string>>): SpoolChange {
  const { status, reason } = fields
  if (status !== 'up' && status !== 'down') throw new HC_ERR_BAD_FIELD('status must be up or down')
  const expiration = time('expiration', fields.expiration)
  const creation = time('creation', fields.creation)
  const state = fields.state ?? 'down'
  if (!(SPOOL_STATES as readonly string[]).includes(state)) throw new HC_ERR_BAD_FIELD('field state must be down, drain or maint')
  if (status === 'up') {
    if (fields.state !== undefined) throw new HC_ERR_BAD_FIELD('field state is only for status=down')
    return { status }
  }
  if (reason === undefined || reason.trim() === '') throw new HC_ERR_BAD_FIELD('field reason is required for status=down')
  // Tabs and newlines would break hastatus's one-line, tab-separated output.
  const problem = reasonProblem(reason)
  if (problem !== undefined) throw new HC_ERR_BAD_FIELD(problem)
  return { status, reason, expiration, creation, state: state as SpoolStateName }
}
