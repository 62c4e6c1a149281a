/**
 * (ours) Keys of composite checks: check groups (one URL for a whole host, as gruntwork's
 * health-checker), the scripts they and `/script/<name>/<port>/` may run, and the http_status
 * route. Shapes are checked here; what needs the checker registry (a member's protocol, a
 * member naming a script that is not configured) is checked at start-up by
 * `checks/group-members.ts`, with errors naming the bad member.
 */
import { Type } from './json-schema.js'
import { Nullable, type KeySpec } from './schema.js'

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
    expected: `a mapping of group names to lists of 1-${MAX_GROUP_MEMBERS} checks (<protocol>/<port>/<query>, or script/<name>)`
  },
  group_failure_code: {
    schema: Type.Integer({ minimum: 400, maximum: 599, default: 503 }),
    expected: 'an HTTP status 400-599 (503; 504 answers as gruntwork health-checker does)'
  },
  scripts: {
    schema: Type.Record(Type.String({ pattern: NAME_PATTERN }), Script, { additionalProperties: false }),
    default: {},
    expected: `a mapping of script names to {command: <argv list, or a string for /bin/sh -c>, timeout: <seconds, at most ${MAX_SCRIPT_TIMEOUT_SECONDS}>}`
  },
  http_status_root: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a directory path (e.g. /var/run/http_status) or null (the http_status route is off)'
  }
} satisfies Record<string, KeySpec>
