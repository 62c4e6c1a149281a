/** What the spool tools print: the line formats of docs/tools.md "Spool tools". Pure. */
import { fileOf, pyFloat, type SpoolEntry, type SpoolKey, type SpoolState } from '../spool/spool.js'
import type { WeightEntry } from '../spool/weight.js'
import type { ScopeLoad } from '../ops/load-weight.js'
import type { PressureWindow } from '../ops/pressure.js'

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

/**
 * (ours) `hastatus`'s first line for a service: what the daemon answers (`state`, from the
 * server's lookup), in the reference's shape: `UP\t<name>`, or `DOWN\t<expiration>\t<name>\t<reason>`
 * (`DRAIN`/`MAINT` alike). When the answer comes from anything but the service's own local file
 * (`all`, a port's file, a fleet entry), two fields follow: the source (`local`, `fleet`,
 * `host`) and the spool name that holds it; when the fleet's part is in doubt, `note` last.
 * So the line is the reference's, byte for byte, wherever the reference was right.
 *
 * @param key - the key asked about, normalised (its name is printed, whatever file answered).
 */
export function stateLine (key: SpoolKey, state: SpoolState, note: string | null): string {
  const tail = note === null ? '' : `\t${note}`
  if (state.up) return `UP\t${displayName(key)}${tail}`
  const { entry } = state
  const source = entry.source ?? 'local'
  const own = source === 'local' && entry.file === fileOf(key)
  const line = downLine({ ...entry, key })
  return own && note === null ? line : `${line}\t${source}\t${entry.file}${tail}`
}

/** (ours) `WEIGHT\t<percent>\t<name>`. */
export function weightLine (entry: WeightEntry): string {
  return `WEIGHT\t${entry.weight}\t${displayName(entry.key)}`
}

/**
 * (ours) `LOAD\t<percent, or - when no source is usable>\t<name>\t<where> <window>: <inputs>`,
 * `<where>` being `host` or `cgroup <dir>`, each input `<resource> <percent>` or
 * `<resource>: <why it is ignored>` (docs/tools.md "Spool tools").
 */
export function loadLine (name: string, scope: ScopeLoad, window: PressureWindow): string {
  const where = scope.kind === 'host' ? 'host' : `cgroup ${scope.dir}`
  const inputs = scope.inputs.map((i) => i.some === null ? `${i.resource}: ${i.error ?? 'not read'}` : `${i.resource} ${i.some[window].toFixed(2)}`)
  return `LOAD\t${scope.weight ?? '-'}\t${name}\t${where} ${window}: ${inputs.join(', ')}`
}

/** `json.dumps` spacing (`", "`, `": "`), so `halist` prints what the reference printed. */
export function pyJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`).join(', ')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
