/** What the spool tools print: the line formats of docs/tools.md "Spool tools". Pure. */
import { pyFloat, type SpoolEntry, type SpoolKey } from '../spool/spool.js'
import type { WeightEntry } from '../spool/weight.js'

/** `svc`, or `svc:<host>:<port>` (host empty when absent: `svc::1234`), as the tools print keys. */
export function displayName (key: SpoolKey): string {
  return key.port === undefined ? key.service : `${key.service}:${key.host ?? ''}:${key.port}`
}

/**
 * `DOWN\t<expiration %f, or inf>\t<name>\t<reason>`; (ours) `DRAIN` or `MAINT` instead of
 * `DOWN` for those states, same fields.
 */
export function downLine (entry: SpoolEntry): string {
  const expiration = entry.expiration === null ? 'inf' : pyFloat(entry.expiration)
  return `${entry.state.toUpperCase()}\t${expiration}\t${displayName(entry.key)}\t${entry.reason}`
}

/** (ours) `WEIGHT\t<percent>\t<name>`. */
export function weightLine (entry: WeightEntry): string {
  return `WEIGHT\t${entry.weight}\t${displayName(entry.key)}`
}

/** `json.dumps` spacing (`", "`, `": "`), so `halist` prints what the reference printed. */
export function pyJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`).join(', ')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
