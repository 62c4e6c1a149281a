/**
 * (ours) Pressure stall information (PSI), as the kernel reports it: the files
 * `/proc/pressure/{cpu,memory,io}` for the whole host and `{cpu,memory,io}.pressure` in each
 * cgroup v2 directory (kernel Documentation/accounting/psi.rst). Each holds a `some` line (the
 * share of time at least one task waited for the resource) and, except for CPU before Linux
 * 5.13, a `full` line (all non-idle tasks waited):
 *
 * ```
 * some avg10=0.22 avg60=0.17 avg300=1.11 total=58761459
 * full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * ```
 *
 * `avg10`, `avg60` and `avg300` are percentages averaged over 10, 60 and 300 seconds (updated
 * every 2 seconds); `total` is the stall time in microseconds. The parse is strict: anything
 * else (a missing or extra field, a value over 100, a line cut short) makes the file unusable,
 * never a guessed number. Files are read as any hostile file is (`bounded-read.ts`): no
 * symlink followed, no blocking on a FIFO, at most {@link MAX_PRESSURE_FILE_BYTES}. Pure
 * functions; no state.
 */
import { join } from 'node:path'
import { readBoundedFile } from './bounded-read.js'

/** The resources PSI reports on. */
export const PRESSURE_RESOURCES = ['cpu', 'memory', 'io'] as const
/** One PSI resource. */
export type PressureResource = typeof PRESSURE_RESOURCES[number]
/** The averaging windows of a PSI line. */
export const PRESSURE_WINDOWS = ['avg10', 'avg60', 'avg300'] as const
/** One averaging window: 10, 60 or 300 seconds. */
export type PressureWindow = typeof PRESSURE_WINDOWS[number]

/** Largest pressure file read, bytes (a real one holds two lines of about 60). */
export const MAX_PRESSURE_FILE_BYTES = 4096

/** One PSI line: the three averages (percent, 0-100) and the total stall time (microseconds). */
export interface PressureLine {
  avg10: number
  avg60: number
  avg300: number
  totalUs: number
}

/** A pressure file, parsed. */
export interface Pressure {
  some: PressureLine
  /** Absent from a CPU file before Linux 5.13. */
  full: PressureLine | null
}

/** What {@link readPressureFile} found: the pressure, or why the file cannot be used. */
export type PressureRead =
  | { readonly ok: true, readonly pressure: Pressure }
  | { readonly ok: false, readonly reason: string }

// The kernel prints each average as "%lu.%02lu" and the total as "%llu" (kernel/sched/psi.c).
const AVG = '([0-9]{1,3}\\.[0-9]{2})'
const LINE = (kind: string): string => `${kind} avg10=${AVG} avg60=${AVG} avg300=${AVG} total=([0-9]{1,20})\n`
const FILE_RE = new RegExp(`^${LINE('some')}(?:${LINE('full')})?$`)

function line (fields: ReadonlyArray<string | undefined>): PressureLine | null {
  const [avg10, avg60, avg300, total] = fields.map(Number)
  if (avg10 === undefined || avg60 === undefined || avg300 === undefined || total === undefined) return null
  if (avg10 > 100 || avg60 > 100 || avg300 > 100 || !Number.isSafeInteger(total)) return null
  return { avg10, avg60, avg300, totalUs: total }
}

/**
 * Parses a pressure file's text, strictly (see the file comment).
 *
 * @returns the pressure, or null when the text is not exactly a `some` line and an optional
 *   `full` line, each ended by a newline, with averages 0-100.
 */
export function parsePressure (text: string): Pressure | null {
  const m = FILE_RE.exec(text)
  if (m === null) return null
  const some = line(m.slice(1, 5))
  if (some === null) return null
  if (m[5] === undefined) return { some, full: null }
  const full = line(m.slice(5, 9))
  return full === null ? null : { some, full }
}

/**
 * The path of a resource's pressure file: `<dir>/<resource>` for the host's PSI directory
 * (`/proc/pressure`), `<dir>/<resource>.pressure` for a cgroup v2 directory.
 */
export function pressurePath (dir: string, resource: PressureResource, kind: 'host' | 'cgroup'): string {
  return join(dir, kind === 'host' ? resource : `${resource}.pressure`)
}

/**
 * Reads and parses one pressure file (see the file comment). Never throws, never blocks, never
 * quotes the file in a reason.
 */
export function readPressureFile (path: string): PressureRead {
  const label = `pressure file ${path}`
  const found = readBoundedFile(path, label, MAX_PRESSURE_FILE_BYTES)
  if (found.kind === 'absent') return { ok: false, reason: `${label} does not exist` }
  if (found.kind === 'refused') return { ok: false, reason: found.reason }
  const pressure = parsePressure(found.text)
  if (pressure === null) return { ok: false, reason: `${label} is not in the PSI format (some avg10=... avg60=... avg300=... total=...)` }
  return { ok: true, pressure }
}
