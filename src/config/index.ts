/**
 * Folder config/: the config file, from YAML to a frozen {@link Config}: the one entry point
 * that parses and validates it (docs/configuration.md). The keys are declared by role in the
 * section files beside it (`checks.ts`, `checkers.ts`, `server.ts`, `spool.ts`, `agent.ts`,
 * `fleet.ts`, `groups.ts`, `load-weight.ts`), each with its type and default: the YAML keys of
 * Yelp's hacheck plus ours. What spans keys or needs the checker registry (agent checks and
 * group members written as check URLs, fleet and load-weight settings that must fit together)
 * is parsed here too, once, into the config's derived fields; the rest of hacheck receives the
 * result and parses nothing.
 *
 * May import the checker registry (`checkers/`: which protocols exist and what their URLs
 * say) and the top-level leaves; imports no Fastify: the CLI tools share it.
 */
import { readFile } from 'node:fs/promises'
import type { Static } from '@sinclair/typebox'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { checkers as defaultCheckers, type CheckerRegistry } from '../checkers/index.js'
import { parseCidr } from '../cidr.js'
import { HC_ERR_CONFIG } from '../errors.js'
import { agentKeys, parseAgentChecks, type AgentCheck } from './agent.js'
import { checkersKeys } from './checkers.js'
import { checksKeys } from './checks.js'
import { fleetKeys, fleetSettings, type FleetSettings } from './fleet.js'
import { groupsKeys, parseGroups, type GroupDefinition } from './groups.js'
import { loadWeightKeys, loadWeightSettings, type LoadWeightSettings } from './load-weight.js'
import { configPathOf, type ConfigPath, type KeySpec } from './schema.js'
import { serverKeys } from './server.js'
import { spoolKeys } from './spool.js'
import { parseYamlSource } from './yaml-source.js'

/**
 * The whole key table: one section per role, each in its own file. A new section is one file,
 * one line here and one in {@link CONFIG_SECTIONS}.
 */
const keys = {
  ...checksKeys,
  ...checkersKeys,
  ...serverKeys,
  ...spoolKeys,
  ...agentKeys,
  ...fleetKeys,
  ...groupsKeys,
  ...loadWeightKeys
}

/** The key table by section, titled, in the order docs/configuration.md lists them. */
export const CONFIG_SECTIONS: ReadonlyArray<{ readonly title: string, readonly keys: Readonly<Record<string, KeySpec>> }> = [
  { title: 'Checks', keys: checksKeys },
  { title: 'Checker credentials', keys: checkersKeys },
  { title: 'Server', keys: serverKeys },
  { title: 'Spool', keys: spoolKeys },
  { title: 'Agent-check server', keys: agentKeys },
  { title: 'Fleet', keys: fleetKeys },
  { title: 'Groups, scripts and http_status', keys: groupsKeys },
  { title: 'Load weights', keys: loadWeightKeys }
]

type Keys = typeof keys

/**
 * One compiled validator per key. TypeBox builds the schemas and their static types; Ajv, which
 * Fastify already loads, checks values (TypeBox's own checker would add ~10 MB to every process).
 * Compiled on first use, so a start-up compiles only the keys its file sets (compiling all of
 * them took a fifth of the time to the first answer; bench/RESULTS.md "Start-up"); at most one
 * per key, kept afterwards.
 */
const validators = new Map<string, ValidateFunction>()
let ajv: Ajv | undefined
function validatorOf (key: keyof Keys): ValidateFunction {
  const known = validators.get(key)
  if (known !== undefined) return known
  if (ajv === undefined) {
    ajv = new Ajv({ strict: false, allErrors: false })
    ajv.addFormat('cidr', { type: 'string', validate: (value: string) => parseCidr(value) !== null })
  }
  const validate = ajv.compile(keys[key].schema)
  validators.set(key, validate)
  return validate
}
/** Every config key, present, typed and frozen: what the file says, defaults filled in. */
export type ConfigValues = Readonly<{ [K in keyof Keys]: Static<Keys[K]['schema']> }>

/** What the config's keys mean once parsed across keys: computed once, at load. */
export interface DerivedConfig {
  /** `agent_checks`, parsed: service name → the check the agent runs. */
  readonly agentChecks: ReadonlyMap<string, AgentCheck>
  /** `groups` (with `scripts`), parsed: group name → its members. */
  readonly checkGroups: ReadonlyMap<string, GroupDefinition>
  /** The fleet keys, checked across keys; null without `fleet_etcd_endpoints`. */
  readonly fleet: FleetSettings | null
  /** (ours) The load-weight keys, checked across keys; null without `load_weight_sources` (off). */
  readonly loadWeight: LoadWeightSettings | null
}

/** Validated configuration: every key, plus its {@link DerivedConfig}. See docs/configuration.md. */
export type Config = ConfigValues & DerivedConfig

/** What a config is validated against besides its own keys. */
export interface ConfigOptions {
  /** The checker registry the server runs (agent checks and group members name protocols); the built-in one by default. */
  checkers?: CheckerRegistry
  /** The default for `fleet_host_name`: the machine's host name by default. */
  machineHost?: string
  /** The line where a key path is written in the source, so errors can name it; none by default. */
  lineOf?: (path: ConfigPath) => number | undefined
}

/** The result of loading: the frozen config plus warnings (unknown keys) for the caller to log. */
export interface LoadedConfig {
  config: Config
  /** Human-readable warnings, e.g. `unknown config key 'cache_tme' in /etc/hacheck.yaml (ignored)`. */
  warnings: string[]
  /** Where the config came from: a file path, or `defaults`. */
  source: string
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `${typeof value} ${JSON.stringify(value)}`
}

/**
 * For a list or mapping whose shape is right but one entry is not: which entry, and what it
 * must be (`item 2 ("10.0.0.0/33") is not a CIDR network ...`), with the entry's key or index.
 * `null` when the value itself is the problem.
 */
function badEntry (value: unknown, errors: ErrorObject[] | null | undefined, spec: KeySpec): { text: string, at: string | number } | null {
  if (value === null || typeof value !== 'object') return null
  const first = errors?.[0]
  if (first === undefined) return null
  if (first.keyword === 'additionalProperties' && first.instancePath === '') {
    const key = String((first.params as { additionalProperty?: unknown }).additionalProperty)
    return { text: `entry ${JSON.stringify(key)} is not ${spec.name ?? 'a valid name'}`, at: key }
  }
  const segment = /^\/([^/]*)/.exec(first.instancePath)?.[1]
  if (segment === undefined) return null
  const name = segment.replaceAll('~1', '/').replaceAll('~0', '~')
  const entry = (value as Record<string, unknown>)[name]
  const label = Array.isArray(value) ? `item ${Number(name) + 1}` : `entry ${name}`
  const shown = typeof entry === 'string' ? JSON.stringify(entry) : describe(entry)
  return { text: `${label} (${shown}) is not ${spec.item ?? 'valid'}`, at: Array.isArray(value) ? Number(name) : name }
}

/**
 * Validates a plain object (a parsed YAML document) into a frozen {@link Config}: each key
 * against its schema, then what spans keys ({@link DerivedConfig}).
 *
 * @param raw - the parsed document; `null`/`undefined` (an empty file) means all defaults.
 * @param source - file name used in messages.
 * @throws HC_ERR_CONFIG naming the key, the expected type and the source, on the first bad key;
 *   for a list or mapping, also the bad entry and what it must be; for an agent check or group
 *   member, the entry and why; for fleet keys that do not fit together, the keys.
 */
export function buildConfig (raw: unknown, source = 'config', opts: ConfigOptions = {}): LoadedConfig {
  const doc = raw ?? {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new HC_ERR_CONFIG(`config error in ${source}: the top level must be a mapping of keys, got ${describe(doc)}`)
  }
  const warnings: string[] = []
  const out: Record<string, unknown> = {}
  // `<file>, line N` where the source knows the line.
  const where = (path: ConfigPath): string => {
    const line = path.length === 0 ? undefined : opts.lineOf?.(path)
    return line === undefined ? source : `${source}, line ${line}`
  }
  for (const [key, value] of Object.entries(doc)) {
    if (!Object.hasOwn(keys, key)) {
      warnings.push(`unknown config key '${key}' in ${where([key])} (ignored)`)
      continue
    }
    const spec: KeySpec = keys[key as keyof Keys]
    const validate = validatorOf(key as keyof Keys)
    if (validate(value) !== true) {
      const entry = badEntry(value, validate.errors, spec)
      const at = entry === null ? [key] : [key, entry.at]
      throw new HC_ERR_CONFIG(`config error in ${where(at)}: key '${key}' must be ${spec.expected}${entry === null ? `, got ${describe(value)}` : `: ${entry.text}`}`)
    }
    out[key] = value
  }
  for (const [key, spec] of Object.entries(keys)) {
    if (key in out) continue
    out[key] = structuredClone('default' in spec ? spec.default : spec.schema.default)
  }
  const values = deepFreeze(out) as ConfigValues
  const registry = opts.checkers ?? defaultCheckers
  let derived: DerivedConfig
  try {
    derived = {
      agentChecks: parseAgentChecks(values.agent_checks, registry),
      checkGroups: parseGroups(values, registry),
      fleet: fleetSettings(values, opts.machineHost),
      loadWeight: loadWeightSettings(values)
    }
  } catch (err) {
    throw new HC_ERR_CONFIG(`${(err as Error).message} (in ${where(configPathOf(err) ?? [])})`)
  }
  return { config: Object.freeze({ ...values, ...derived }), warnings, source }
}

/**
 * Reads and validates a YAML config file; no path means all defaults. The one entry point:
 * the server, the tools and `--check-config` all load through it.
 *
 * @param path - file path, or `undefined` for defaults.
 * @throws HC_ERR_CONFIG when the file cannot be read, is not YAML (naming the line), has a key
 *   of the wrong type, or keys that do not fit together (see {@link buildConfig}; naming the
 *   line of the key or entry).
 */
export async function loadConfig (path?: string, opts: ConfigOptions = {}): Promise<LoadedConfig> {
  if (path === undefined) return buildConfig({}, 'defaults', opts)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new HC_ERR_CONFIG(`cannot read config file ${path}: ${(err as Error).message}`)
  }
  const source = parseYamlSource(text, path)
  const loaded = buildConfig(source.value, path, { ...opts, lineOf: source.lineOf })
  return { ...loaded, warnings: [...source.warnings, ...loaded.warnings] }
}

/**
 * A complete config from defaults plus overrides, for tests and embedding; validated like a file.
 *
 * @throws HC_ERR_CONFIG on a bad value, and (unlike a file) on an unknown key, so typos fail loudly.
 */
export function makeConfig (overrides: Partial<Record<keyof ConfigValues, unknown>> = {}, opts: ConfigOptions = {}): Config {
  const { config, warnings } = buildConfig(overrides, 'overrides', opts)
  if (warnings.length > 0) throw new HC_ERR_CONFIG(warnings.join('; '))
  return config
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}

export { DEFAULT_CHECK_NETWORKS } from './checks.js'
