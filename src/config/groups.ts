/**
 * (ours) Keys of composite checks: check groups (one URL for a whole host, as gruntwork's
 * health-checker), the scripts they and `/script/<name>/<port>/` may run, and the http_status
 * route. The key shapes are checked by the schema; {@link parseGroups} then parses each
 * member against the checker registry (a member's protocol, a member naming a script that is
 * not configured), with errors naming the bad member.
 */
import { isValidServiceName, parseCheckSpec } from '../check-url.js'
import type { CheckerRegistry } from '../checkers/index.js'
import { Type } from './json-schema.js'
import { Nullable, configErrorAt, type KeySpec } from './schema.js'
import { HC_ERR_GROUP_NOT_PROBE, HC_ERR_GROUP_NO_SCRIPT } from '../errors.js'

/** A group or script name: a service name (`[.a-zA-Z0-9_-]+`), so it can stand in a URL. */
const NAME_PATTERN = '^[.a-zA-Z0-9_-]{1,255}$'

/** Most members in one group: every member may take an outbound slot on every request. */
export const MAX_GROUP_MEMBERS = 64

/** Longest a script may be given, seconds. */
export const MAX_SCRIPT_TIMEOUT_SECONDS = 3600

/** One configured script: an argv list (run without a shell) or a string for `/bin/sh -c`. */
const Script = Type.Object({
  command: Type.Union([
    Type.String({ minLength: 1, maxLength: 8192 }),
    Type.Array(Type.String({ maxLength: 8192 }), { minItems: 1, maxItems: 256 })
  ]),
  timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_SCRIPT_TIMEOUT_SECONDS }))
}, { additionalProperties: false })

/** The groups section of the config key table. */
export const groupsKeys = {
  groups: {
    schema: Type.Record(
      Type.String({ pattern: NAME_PATTERN }),
      Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { minItems: 1, maxItems: MAX_GROUP_MEMBERS }),
      { additionalProperties: false }
    ),
    default: {},
    expected: `a mapping of group names to lists of 1-${MAX_GROUP_MEMBERS} checks (<protocol>/<port>/<query>, or script/<name>)`,
    description: 'check groups served at `/group/<name>/<port>/`: members `<protocol>/<port>/<query>` or `script/<name>`, at most 64 per group; see [Groups and scripts](groups-and-scripts.md#groups-and-scripts)'
  },
  group_failure_code: {
    schema: Type.Integer({ minimum: 400, maximum: 599, default: 503 }),
    expected: 'an HTTP status 400-599 (503; 504 answers as gruntwork health-checker does)',
    description: 'a group\'s answer when a member fails (504 as gruntwork\'s health-checker)'
  },
  scripts: {
    schema: Type.Record(Type.String({ pattern: NAME_PATTERN }), Script, { additionalProperties: false }),
    default: {},
    expected: `a mapping of script names to {command: <argv list, or a string for /bin/sh -c>, timeout: <seconds, at most ${MAX_SCRIPT_TIMEOUT_SECONDS}>}`,
    description: 'commands `/script/<name>/<port>/` and `script/<name>` members run: `command` an argv list or a `/bin/sh -c` string, `timeout` seconds (default `healthcheck_timeout`, at most 3600)'
  },
  script_starts_per_second: {
    schema: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
    expected: 'an integer 1-1000',
    description: 'most script commands started a second (bursts of as many); beyond that a script check waits, up to 5 seconds\' worth of starts, then answers down (`PROCERR`); see [Groups and scripts](groups-and-scripts.md#groups-and-scripts)'
  },
  http_status_root: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a directory path (e.g. /var/run/http_status) or null (the http_status route is off)',
    description: 'directory of http_status presence files; set, `/status?SERVICE=...&PORT=...&VIP=...` answers as http_status; see [Coming from http_status / health-checker](migration.md#coming-from-http_status--health-checker)'
  }
} satisfies Record<string, KeySpec>

/** One member of a group, ready to be checked. */
export interface GroupMember {
  /** As written in the config (`tcp/5432`): how answers and logs name it. */
  readonly spec: string
  readonly protocol: string
  /**
   * The service the member is checked as: the script's name for `script/<name>`; absent for
   * the others, which are checked as the group (so `service_name_header` carries its name).
   */
  readonly service?: string
  /** 1-65535; 0 for a script (it is run for the whole group). */
  readonly port: number
  /** The path after the port, without the leading `/` and the query string. */
  readonly query: string
  /** The query string, without `?`. */
  readonly queryString: string
}

/** A configured group. */
export interface GroupDefinition {
  readonly name: string
  readonly members: readonly GroupMember[]
}

/** Parses one member; throws a coded error whose message says why (the caller names the member). */
function parseMember (spec: string, scripts: Readonly<Record<string, unknown>>, registry: CheckerRegistry): GroupMember {
  const { protocol, checker, port, query, queryString, name } = parseCheckSpec(spec, registry)
  if (!checker.probes) throw new HC_ERR_GROUP_NOT_PROBE(protocol)
  if (name === undefined) return { spec, protocol, port, query, queryString }
  if (protocol === 'script' && !Object.hasOwn(scripts, name)) throw new HC_ERR_GROUP_NO_SCRIPT(name)
  return { spec, protocol, service: name, port, query, queryString }
}

/**
 * Every configured group by name, each member parsed with the check-URL grammar
 * (`check-url.ts`) against the checker registry the server runs.
 *
 * @throws HC_ERR_CONFIG for the first bad group name, script name or member, naming it (and
 *   carrying its place in the file, see `configErrorAt`), e.g.
 *   `config error: groups.web-stack[1] "htp/8080": unknown protocol 'htp'; expected
 *   <protocol>/<port>/<query> or script/<name>`.
 */
export function parseGroups (
  values: { groups: Readonly<Record<string, readonly string[]>>, scripts: Readonly<Record<string, unknown>> },
  registry: CheckerRegistry
): ReadonlyMap<string, GroupDefinition> {
  const groups = new Map<string, GroupDefinition>()
  for (const [name, specs] of Object.entries(values.groups)) {
    if (!isValidServiceName(name)) throw configErrorAt(`config error: groups.${name}: not a group name (. and .. are not names)`, ['groups', name])
    const members = specs.map((spec, i) => {
      try {
        return parseMember(spec, values.scripts, registry)
      } catch (err) {
        throw configErrorAt(`config error: groups.${name}[${i}] ${JSON.stringify(spec)}: ${(err as Error).message}; expected <protocol>/<port>/<query> or script/<name>`, ['groups', name, i])
      }
    })
    groups.set(name, { name, members })
  }
  for (const name of Object.keys(values.scripts)) {
    if (!isValidServiceName(name)) throw configErrorAt(`config error: scripts.${name}: not a script name (. and .. are not names)`, ['scripts', name])
  }
  return groups
}
