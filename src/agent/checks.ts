/**
 * (ours) The `agent_checks` config: which check the agent runs for a service, written as a
 * check URL without the service, `<protocol>/<port>/<query>` (`http/8080/health`,
 * `tcp/5432`, `mysql/3306`). Services without an entry are answered from the spool alone.
 */
import { checkers, type Protocol } from '../checkers/index.js'
import { parseCheckSpec } from '../checks/check-spec.js'
import type { Config } from '../config/index.js'
import { HC_ERR_CONFIG } from '../errors.js'
import { isValidServiceName } from '../spool/spool.js'

/** One configured agent check. */
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
 * Parses one `agent_checks` value.
 *
 * @throws HC_ERR_CONFIG naming the service for an unknown protocol, a bad port, a missing `/`
 *   after the port where the protocol needs one, or a query the protocol rejects (an unknown role).
 */
export function parseAgentCheck (service: string, spec: string): AgentCheck {
  const fail = (why: string): never => {
    throw new HC_ERR_CONFIG(`config error: agent_checks.${service} ${JSON.stringify(spec)}: ${why}; expected <protocol>/<port>/<query>`)
  }
  if (!isValidServiceName(service)) return fail('not a service name')
  let parsed
  try {
    parsed = parseCheckSpec(spec, checkers)
  } catch (err) {
    return fail((err as Error).message)
  }
  // A named check runs what its name says, not the agent's service: that is a group's job.
  if (parsed.name !== undefined) return fail(`${parsed.protocol} checks are run through a group (groups:), not agent_checks`)
  const { protocol, port, query, queryString } = parsed
  return { protocol: protocol as Protocol, port, query, queryString }
}

/**
 * All configured agent checks by service name.
 *
 * @throws HC_ERR_CONFIG for the first bad entry.
 */
export function parseAgentChecks (config: Pick<Config, 'agent_checks'>): ReadonlyMap<string, AgentCheck> {
  return new Map(Object.entries(config.agent_checks).map(([service, spec]) => [service, parseAgentCheck(service, spec)]))
}
