/**
 * Config loader: the YAML keys of Yelp's hacheck (CONTRACT section 2) plus ours, each with its
 * type and default, validated once into a frozen {@link Config}.
 *
 * Imports no Fastify: the CLI tools share it.
 */
import { readFile } from 'node:fs/promises'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ajv, type ValidateFunction } from 'ajv'
import { parse as parseYaml } from 'yaml'
import { parseCidr } from '../cidr.js'
import { HC_ERR_CONFIG } from '../errors.js'

/**
 * A network such as `10.0.0.0/8` or `fc00::/7`; a bare address means that one host (the `cidr`
 * format is registered on the validator below).
 */
const Cidr = Type.String({ format: 'cidr' })

/**
 * Where probes may go by default (ours): loopback, RFC 1918, shared address space (RFC 6598)
 * and IPv6 unique local addresses. Link-local (including cloud metadata at 169.254.169.254)
 * and public addresses are left out.
 */
export const DEFAULT_CHECK_NETWORKS: readonly string[] = Object.freeze([
  '127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'
])

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/** A header name as RFC 9110 allows it (a token). */
const HeaderName = Type.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' })

/**
 * One entry per config key: its schema (with default) and the human wording of the type used
 * in error messages. Keys keep hacheck's spelling.
 */
const keys = {
  cache_time: {
    schema: Type.Number({ minimum: 0, default: 10 }),
    expected: 'a number of seconds >= 0'
  },
  healthcheck_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 10 }),
    expected: 'a number of seconds > 0'
  },
  max_clients: {
    schema: Type.Integer({ minimum: 1, default: 10 }),
    expected: 'an integer >= 1'
  },
  service_name_header: {
    schema: Nullable(HeaderName),
    default: null,
    expected: 'a header name or null'
  },
  log_path: {
    schema: Type.String({ minLength: 1, default: 'stderr' }),
    expected: "'stdout', 'stderr' or a file path"
  },
  mysql_username: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)'
  },
  mysql_password: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)'
  },
  rlimit_nofile: {
    schema: Nullable(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('max')])),
    default: null,
    expected: "an integer >= 1, 'max' or null"
  },
  allow_remote_spool_changes: {
    schema: Type.Boolean({ default: false }),
    expected: 'true or false'
  },
  http_headers_to_copy: {
    schema: Type.Array(HeaderName, { default: ['Host'] }),
    expected: 'a list of header names'
  },
  cache_max_entries: {
    schema: Type.Integer({ minimum: 1, default: 10000 }),
    expected: 'an integer >= 1'
  },
  spool_root: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a directory path or null'
  },
  remote_spool_token: {
    schema: Nullable(Type.String({ minLength: 16, pattern: '^[\\x21-\\x7e]+$' })),
    default: null,
    expected: 'a string of at least 16 printable characters without spaces, or null'
  },
  remote_spool_allowed_cidrs: {
    schema: Nullable(Type.Array(Cidr)),
    default: null,
    expected: 'a list of CIDR networks (e.g. 10.0.0.0/8), or null for any client'
  },
  allowed_check_networks: {
    schema: Type.Array(Cidr),
    default: DEFAULT_CHECK_NETWORKS,
    expected: 'a list of CIDR networks (e.g. 10.0.0.0/8)'
  },
  max_connections: {
    schema: Type.Integer({ minimum: 1, default: 4096 }),
    expected: 'an integer >= 1'
  },
  keep_alive_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 5 }),
    expected: 'a number of seconds > 0'
  },
  request_header_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 10 }),
    expected: 'a number of seconds > 0'
  },
  shutdown_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 15 }),
    expected: 'a number of seconds > 0'
  },
  agent_port: {
    schema: Nullable(Type.Integer({ minimum: 0, maximum: 65535 })),
    default: null,
    expected: 'a port 0-65535 or null (no agent-check server)'
  },
  agent_bind: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'an address or null (the -B address)'
  },
  agent_checks: {
    schema: Type.Record(
      Type.String({ pattern: '^[.a-zA-Z0-9_-]+$' }),
      Type.String({ pattern: '^[a-z0-9]+/[0-9]{1,5}(/.*)?$' }),
      { additionalProperties: false }
    ),
    default: {},
    expected: 'a mapping of service names to checks <protocol>/<port>/<query>'
  }
} satisfies Record<string, { schema: TSchema, expected: string, default?: unknown }>

type Keys = typeof keys

/**
 * One compiled validator per key. TypeBox builds the schemas and their static types; Ajv, which
 * Fastify already loads, checks values (TypeBox's own checker would add ~10 MB to every process).
 * Compiled once; immutable afterwards.
 */
const validators: Readonly<Record<string, ValidateFunction>> = (() => {
  const ajv = new Ajv({ strict: false, allErrors: false })
  ajv.addFormat('cidr', { type: 'string', validate: (value: string) => parseCidr(value) !== null })
  return Object.fromEntries(Object.entries(keys).map(([key, spec]) => [key, ajv.compile(spec.schema)]))
})()
/** Validated configuration: every key present, typed, frozen. See README "Configuration". */
export type Config = Readonly<{ [K in keyof Keys]: Static<Keys[K]['schema']> }>

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
 * Validates a plain object (a parsed YAML document) into a frozen {@link Config}.
 *
 * @param raw - the parsed document; `null`/`undefined` (an empty file) means all defaults.
 * @param source - file name used in messages.
 * @throws HC_ERR_CONFIG naming the key, the expected type and the source, on the first bad key.
 */
export function buildConfig (raw: unknown, source = 'config'): LoadedConfig {
  const doc = raw ?? {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new HC_ERR_CONFIG(`config error in ${source}: the top level must be a mapping of keys, got ${describe(doc)}`)
  }
  const warnings: string[] = []
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(doc)) {
    if (!Object.hasOwn(keys, key)) {
      warnings.push(`unknown config key '${key}' in ${source} (ignored)`)
      continue
    }
    const spec = keys[key as keyof Keys]
    if (validators[key]?.(value) !== true) {
      throw new HC_ERR_CONFIG(`config error in ${source}: key '${key}' must be ${spec.expected}, got ${describe(value)}`)
    }
    out[key] = value
  }
  for (const [key, spec] of Object.entries(keys)) {
    if (key in out) continue
    out[key] = structuredClone('default' in spec ? spec.default : spec.schema.default)
  }
  return { config: deepFreeze(out) as Config, warnings, source }
}

/**
 * Reads and validates a YAML config file; no path means all defaults.
 *
 * @param path - file path, or `undefined` for defaults.
 * @throws HC_ERR_CONFIG when the file cannot be read, is not YAML, or has a key of the wrong type.
 */
export async function loadConfig (path?: string): Promise<LoadedConfig> {
  if (path === undefined) return buildConfig({}, 'defaults')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new HC_ERR_CONFIG(`cannot read config file ${path}: ${(err as Error).message}`)
  }
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    throw new HC_ERR_CONFIG(`config file ${path} is not valid YAML: ${(err as Error).message}`)
  }
  return buildConfig(raw, path)
}

/**
 * A complete config from defaults plus overrides, for tests and embedding; validated like a file.
 *
 * @throws HC_ERR_CONFIG on a bad value, and (unlike a file) on an unknown key, so typos fail loudly.
 */
export function makeConfig (overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  const { config, warnings } = buildConfig(overrides, 'overrides')
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
