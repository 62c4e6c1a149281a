/**
 * Keys of the HAProxy agent-check server, and `agent_checks` parsed into the checks the agent
 * runs (services without an entry are answered from the spool alone). Keys keep hacheck's
 * spelling (docs/configuration.md); ours are flat snake_case too.
 */
import { isValidServiceName, parseCheckSpec } from '../check-url.js'
import type { CheckerRegistry, Protocol } from '../checkers/index.js'
import { Type } from './json-schema.js'
import { Nullable, configErrorAt, type KeySpec } from './schema.js'

/** The agent section of the config key table. */
export const agentKeys = {
  agent_port: {
    schema: Nullable(Type.Integer({ minimum: 0, maximum: 65535 })),
    default: null,
    expected: 'a port 0-65535 or null (no agent-check server)',
    description: 'serve HAProxy agent-check on this port; null: no agent server; `--agent-port` wins'
  },
  agent_bind: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'an address or null (the -B address)',
    description: 'address for the agent server; null: the `-B` address'
  },
  // HAProxy holds one agent connection per server check in flight (200 for 200 servers whose
  // checks all hang: test/e2e/haproxy-connections.test.ts); idle ones cost a socket each.
  agent_max_connections: {
    schema: Type.Integer({ minimum: 1, default: 4096 }),
    expected: 'an integer >= 1',
    description: 'concurrent connections on the agent port; more are closed on arrival, without a reply'
  },
  agent_max_connections_per_client: {
    schema: Type.Integer({ minimum: 1, default: 1024 }),
    expected: 'an integer >= 1',
    description: 'concurrent agent connections one client address may hold; more from it are closed on arrival'
  },
  agent_checks: {
    schema: Type.Record(
      Type.String({ pattern: '^[.a-zA-Z0-9_-]+$' }),
      Type.String({ pattern: '^[a-z0-9]+/[0-9]{1,5}(/.*)?$' }),
      { additionalProperties: false }
    ),
    default: {},
    expected: 'a mapping of service names to checks <protocol>/<port>/<query>',
    item: 'a check <protocol>/<port>/<query> (e.g. http/8080/health or tcp/5432)',
    name: 'a service name ([.a-zA-Z0-9_-]+)',
    description: 'per service, the check the agent runs: `<protocol>/<port>/<query>`, e.g. `web: http/8080/health`, `db: tcp/5432`; services without one are answered from the spool alone'
  }
} satisfies Record<string, KeySpec>

/** One configured agent check: an `agent_checks` value, parsed. */
export interface AgentCheck {
  protocol: Protocol
  /** 1-65535 for probing protocols; 0 allowed for `spool`. */
  port: number
  /** The path after the port, without the leading `/` or the query string. */
  query: string
  /** The query string, without `?`. */
  queryString: string
}

/**
 * Parses one `agent_checks` value with the check-URL grammar (`check-url.ts`).
 *
 * @throws HC_ERR_CONFIG naming the service for an unknown protocol, a bad port, a missing `/`
 *   after the port where the protocol needs one, a query the protocol rejects (an unknown
 *   role), or a named check (`script/<name>`: a group runs those).
 */
export function parseAgentCheck (service: string, spec: string, registry: CheckerRegistry): AgentCheck {
  const fail = (why: string): never => {
    throw configErrorAt(`config error: agent_checks.${service} ${JSON.stringify(spec)}: ${why}; expected <protocol>/<port>/<query>`, ['agent_checks', service])
  }
  if (!isValidServiceName(service)) return fail('not a service name')
  let parsed
  try {
    parsed = parseCheckSpec(spec, registry)
  } catch (err) {
    return fail((err as Error).message)
  }
  // A named check runs what its name says, not the agent's service: that is a group's job.
  if (parsed.name !== undefined) return fail(`${parsed.protocol} checks are run through a group (groups:), not agent_checks`)
  const { protocol, port, query, queryString } = parsed
  return { protocol: protocol as Protocol, port, query, queryString }
}

/**
 * Every `agent_checks` entry, parsed, by service name.
 *
 * @throws HC_ERR_CONFIG for the first bad entry.
 */
export function parseAgentChecks (agentChecks: Readonly<Record<string, string>>, registry: CheckerRegistry): ReadonlyMap<string, AgentCheck> {
  return new Map(Object.entries(agentChecks).map(([service, spec]) => [service, parseAgentCheck(service, spec, registry)]))
}
