/**
 * (ours) The `groups` config, parsed against the checker registry at start-up: each member is
 * written as a check URL without the service, `<protocol>/<port>/<query>` (`tcp/5432`,
 * `http/8080/health`, `mysql/3306/`), or `script/<name>` for a configured script. A member
 * that does not parse stops start-up with an error naming the group, the member and why.
 */
import { checkers as defaultCheckers, type CheckerRegistry } from '../checkers/index.js'
import type { Config } from '../config/index.js'
import { HC_ERR_CONFIG } from '../errors.js'
import { isValidServiceName } from '../spool/spool.js'
import { parseCheckSpec } from './check-spec.js'

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

/**
 * Parses one member. Throws a plain Error whose message says why (the caller names the member).
 */
function parseMember (spec: string, config: Pick<Config, 'scripts'>, registry: CheckerRegistry): GroupMember {
  const { protocol, checker, port, query, queryString, name } = parseCheckSpec(spec, registry)
  if (!checker.probes) throw new Error(`${protocol} is not a probe (the group's own spool gate already runs)`)
  if (name === undefined) return { spec, protocol, port, query, queryString }
  if (protocol === 'script' && !Object.hasOwn(config.scripts, name)) throw new Error(`no script '${name}' under scripts`)
  return { spec, protocol, service: name, port, query, queryString }
}

/**
 * Every configured group by name.
 *
 * @param registry - the checker registry the server runs (tests may pass their own).
 * @throws HC_ERR_CONFIG for the first bad group name or member, naming it, e.g.
 *   `config error: groups.web-stack[1] "htp/8080": unknown protocol 'htp'; expected
 *   <protocol>/<port>/<query> or script/<name>`.
 */
export function parseGroups (config: Pick<Config, 'groups' | 'scripts'>, registry: CheckerRegistry = defaultCheckers): ReadonlyMap<string, GroupDefinition> {
  const groups = new Map<string, GroupDefinition>()
  for (const [name, specs] of Object.entries(config.groups)) {
    if (!isValidServiceName(name)) throw new HC_ERR_CONFIG(`config error: groups.${name}: not a group name (. and .. are not names)`)
    const members = specs.map((spec, i) => {
      try {
        return parseMember(spec, config, registry)
      } catch (err) {
        throw new HC_ERR_CONFIG(`config error: groups.${name}[${i}] ${JSON.stringify(spec)}: ${(err as Error).message}; expected <protocol>/<port>/<query> or script/<name>`)
      }
    })
    groups.set(name, { name, members })
  }
  for (const name of Object.keys(config.scripts)) {
    if (!isValidServiceName(name)) throw new HC_ERR_CONFIG(`config error: scripts.${name}: not a script name (. and .. are not names)`)
  }
  return groups
}
