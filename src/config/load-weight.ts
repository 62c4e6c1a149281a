/**
 * (ours) Keys of load weights: agent-check weights computed from pressure stall information
 * (docs/operator-guide.md "Load weights"). `load_weight_sources: []` (the default) means off:
 * nothing is read or started, and the agent answers exactly as without these keys.
 *
 * Each key is checked on its own here (schema); what spans keys (cgroups named without a source
 * to read, a cgroup for `all`) is checked in {@link loadWeightSettings}, which the config entry
 * point runs once into `config.loadWeight`.
 */
import { HC_ERR_CONFIG } from '../errors.js'
import type { PressureResource, PressureWindow } from '../ops/pressure.js'
import { Type } from './json-schema.js'
import type { KeySpec } from './schema.js'

/** An absolute path without NUL bytes (a directory is checked when read, never at load). */
const AbsolutePath = Type.String({ pattern: '^/[^\\x00]*$', maxLength: 4096 })

/**
 * Most services with a cgroup of their own: each costs three small reads per interval, up to
 * 0.5 ms of CPU on a busy machine (bench/RESULTS.md "Load weights"), so 256 cost a few percent
 * of a core at the default 2 s interval.
 */
export const MAX_LOAD_WEIGHT_CGROUPS = 256

/** The load-weight section of the config key table. */
export const loadWeightKeys = {
  load_weight_sources: {
    schema: Type.Array(Type.Union([Type.Literal('cpu'), Type.Literal('memory'), Type.Literal('io')]), { uniqueItems: true, maxItems: 3, default: [] }),
    expected: 'a list of pressure resources (cpu, memory, io), each at most once; empty for no load weights',
    item: 'cpu, memory or io',
    description: 'PSI resources the agent\'s load weight follows; empty: nothing is read or started, the agent answers as without these keys; see [Load weights](operator-guide.md#load-weights-ours)'
  },
  load_weight_window: {
    schema: Type.Union([Type.Literal('avg10'), Type.Literal('avg60'), Type.Literal('avg300')], { default: 'avg10' }),
    expected: 'avg10, avg60 or avg300 (the average of the PSI some line to read)',
    description: 'which average of each file\'s `some` line is read'
  },
  load_weight_factor: {
    schema: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 1 }),
    expected: 'a number > 0 and <= 100 (k in weight = 100 - k x pressure)',
    description: 'k in load weight = clamp(round(100 − k × pressure), floor, 100)'
  },
  load_weight_floor: {
    schema: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
    expected: 'a percentage 1-100 (the lowest load weight)',
    description: 'the lowest load weight (load never drains a host)'
  },
  load_weight_interval_seconds: {
    schema: Type.Number({ minimum: 0.1, maximum: 3600, default: 2 }),
    expected: 'seconds 0.1-3600 (how often pressure is read)',
    description: 'how often the pressure files are read (on a timer, never per request)'
  },
  load_weight_hysteresis: {
    schema: Type.Integer({ minimum: 0, maximum: 100, default: 5 }),
    expected: 'percentage points 0-100 (how far a new load weight must move to be used)',
    description: 'how far a new load weight must move from the one in use to be used (100 and the floor always are)'
  },
  pressure_root: {
    schema: Type.String({ ...AbsolutePath, default: '/proc/pressure' }),
    expected: 'an absolute directory path (the host\'s PSI files cpu, memory, io)',
    description: 'the host\'s PSI files `cpu`, `memory`, `io`: the pressure of `all` and of every service without a cgroup'
  },
  load_weight_cgroups: {
    schema: Type.Record(Type.String({ pattern: '^[.a-zA-Z0-9_-]+$' }), AbsolutePath, { additionalProperties: false, maxProperties: MAX_LOAD_WEIGHT_CGROUPS }),
    default: {},
    expected: `a mapping of at most ${MAX_LOAD_WEIGHT_CGROUPS} service names to cgroup v2 directories (absolute paths)`,
    item: 'an absolute directory path (e.g. /sys/fs/cgroup/system.slice/web.service)',
    name: 'a service name ([.a-zA-Z0-9_-]+)',
    description: 'a service\'s cgroup v2 directory, whose `cpu.pressure`, `memory.pressure`, `io.pressure` replace the host\'s for it (a systemd service: its unit\'s cgroup, e.g. `/sys/fs/cgroup/system.slice/web.service`); needs `load_weight_sources`; `all` is refused'
  }
} satisfies Record<string, KeySpec>

/** The load-weight keys as a config carries them. */
export interface LoadWeightConfig {
  load_weight_sources: readonly PressureResource[]
  load_weight_window: PressureWindow
  load_weight_factor: number
  load_weight_floor: number
  load_weight_interval_seconds: number
  load_weight_hysteresis: number
  pressure_root: string
  load_weight_cgroups: Readonly<Record<string, string>>
}

/** The load-weight keys after the checks across keys: what the sampler runs with. */
export interface LoadWeightSettings {
  /** Resources read; the highest pressure among them counts. Never empty. */
  sources: readonly PressureResource[]
  /** Which average of the `some` line is read. */
  window: PressureWindow
  /** k in weight = clamp(round(100 - k x pressure), floor, 100). */
  factor: number
  /** Lowest load weight, percent 1-100. */
  floor: number
  /** Percentage points a new weight must move to be used. */
  hysteresis: number
  /** How often pressure is read, milliseconds. */
  intervalMs: number
  /** The host's PSI directory (`/proc/pressure`). */
  pressureRoot: string
  /** Service name → its cgroup v2 directory, whose pressure replaces the host's for it. */
  cgroups: ReadonlyMap<string, string>
}

/**
 * The load-weight settings of a config, or null when `load_weight_sources` is empty (off).
 *
 * @throws HC_ERR_CONFIG when `load_weight_cgroups` names services but no source is read, or
 *   names `all` (the host's pressure is `pressure_root`'s).
 */
export function loadWeightSettings (config: LoadWeightConfig): LoadWeightSettings | null {
  const cgroups = Object.entries(config.load_weight_cgroups)
  if (config.load_weight_sources.length === 0) {
    if (cgroups.length > 0) {
      throw new HC_ERR_CONFIG('config error: load_weight_cgroups is set but load_weight_sources is empty, so nothing would read them; list the resources to read (e.g. [cpu, memory]) or remove load_weight_cgroups')
    }
    return null
  }
  if (Object.hasOwn(config.load_weight_cgroups, 'all')) {
    throw new HC_ERR_CONFIG('config error: load_weight_cgroups cannot name all: the whole host\'s pressure is read from pressure_root')
  }
  return {
    sources: [...config.load_weight_sources],
    window: config.load_weight_window,
    factor: config.load_weight_factor,
    floor: config.load_weight_floor,
    hysteresis: config.load_weight_hysteresis,
    intervalMs: Math.round(config.load_weight_interval_seconds * 1000),
    pressureRoot: config.pressure_root,
    cgroups: new Map(cgroups)
  }
}
