/**
 * A check as the config writes it, a check URL without the service: `<protocol>/<port>/<query>`
 * (`http/8080/health?deep=1`, `tcp/5432`, `spool/0`), or `<protocol>/<name>` for a checker the
 * service names (`script/zk`). One parser for `agent_checks` and `groups`, so both accept and
 * refuse the same things, at start-up, before anything is contacted.
 */
import type { CheckerRegistry } from '../checkers/index.js'
import type { Checker } from '../checkers/types.js'
import { isValidServiceName } from '../spool/spool.js'

/** A parsed check. */
export interface CheckSpec {
  readonly protocol: string
  readonly checker: Checker
  /** 1-65535 for probing protocols; 0 for `spool` (the whole service) and named checks. */
  readonly port: number
  /** The path after the port, without the leading `/` and the query string. */
  readonly query: string
  /** The query string, without `?`. */
  readonly queryString: string
  /** For a checker the service names (`script/<name>`): that name; absent otherwise. */
  readonly name?: string
}

const URL_RE = /^([a-z0-9]+)\/([0-9]{1,5})(\/(.*))?$/
const NAMED_RE = /^[a-z0-9]+\/([.a-zA-Z0-9_-]+)$/

/**
 * Parses one check.
 *
 * @param registry - the checkers the server runs.
 * @throws Error whose message says why, without the entry (the caller names the key and the
 *   entry): unknown protocol, not a check, a port out of range, a missing `/` the protocol
 *   needs, or a query the protocol rejects (an unknown role).
 */
export function parseCheckSpec (spec: string, registry: CheckerRegistry): CheckSpec {
  const protocol = /^[a-z0-9]+/.exec(spec)?.[0] ?? ''
  const checker = Object.hasOwn(registry, protocol) ? registry[protocol] : undefined
  if (checker === undefined) throw new Error(protocol === '' ? 'not a check' : `unknown protocol '${protocol}'`)
  if (checker.namedByService === true) {
    const name = NAMED_RE.exec(spec)?.[1]
    if (name === undefined || !isValidServiceName(name)) throw new Error(`expected ${protocol}/<name>`)
    return { protocol, checker, port: 0, query: '', queryString: '', name }
  }
  const match = URL_RE.exec(spec)
  if (match === null) throw new Error('not a check')
  const [, , portText = '', slash, rest = ''] = match
  const port = Number(portText)
  if (port > 65535 || (port === 0 && checker.probes)) throw new Error(`port must be 1-65535${checker.probes ? '' : ' (0 for the whole service)'}`)
  if (checker.pathRequired && slash === undefined) throw new Error(`${protocol} needs a / after the port`)
  const q = rest.indexOf('?')
  const query = q === -1 ? rest : rest.slice(0, q)
  const queryString = q === -1 ? '' : rest.slice(q + 1)
  const rejected = checker.rejectsQuery?.(query, queryString)
  if (rejected !== undefined) throw new Error(rejected)
  return { protocol, checker, port, query, queryString }
}
