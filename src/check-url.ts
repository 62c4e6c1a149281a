/**
 * The check-URL grammar, in one place: what `/<protocol>/<service>/<port>/<query>?<qs>` may
 * say (docs/http-api.md "Check routes"), and the same without the service as the config writes a
 * check (`agent_checks`, `groups`: `http/8080/health?deep=1`, `tcp/5432`, `script/zk`). The
 * check route, the agent's configured checks and group members all parse here, so they accept
 * and refuse the same things.
 *
 * Service names are part of the grammar: `[.a-zA-Z0-9_-]+`, never `.` or `..`, and short
 * enough that `<service>:<port>` is still a possible spool file name (the spool names its files
 * after them, see `spool/format.ts`).
 *
 * A top-level leaf: pure functions over a registry the caller passes in; imports nothing but
 * types.
 */
import type { Checker, CheckerRegistry } from './checkers/index.js'
import { HC_ERR_CHECK_SPEC, HC_ERR_UNKNOWN_PROTOCOL } from './errors.js'

/** Longest spool file name, bytes: NAME_MAX of Linux file systems. */
export const MAX_FILE_NAME_BYTES = 255
/**
 * Longest service name: `<service>:<port>` must still be a possible file name (`:65535` is six
 * more), so no check, route or tool accepts a name whose spool files cannot exist.
 */
export const MAX_SERVICE_NAME_LENGTH = MAX_FILE_NAME_BYTES - ':65535'.length

const SERVICE_RE = /^[.a-zA-Z0-9_-]+$/
const PORT_RE = /^[0-9]+$/

/**
 * True for a name hacheck accepts as a service: `[.a-zA-Z0-9_-]+`, never `.` or `..`, at most
 * {@link MAX_SERVICE_NAME_LENGTH} characters.
 */
export function isValidServiceName (name: string): boolean {
  return name.length <= MAX_SERVICE_NAME_LENGTH && SERVICE_RE.test(name) && name !== '.' && name !== '..'
}

/** A parsed check: which checker, which port, and the query it is asked. */
export interface CheckUrl {
  readonly protocol: string
  readonly checker: Checker
  /** 0-65535 as written; whether 0 is allowed depends on the caller (see {@link parseCheckSpec}). */
  readonly port: number
  /** The path after the port, without the leading `/` and the query string; raw (undecoded). */
  readonly query: string
  /** The query string, without `?`; raw. */
  readonly queryString: string
  /** For a checker the service names (`script/<name>`): that name; absent otherwise. */
  readonly name?: string
}

/**
 * Why a URL is not a check: it names no check route (`route`, 404), its port is out of range
 * (`port`, 400), or the protocol rejects its query (`query`, 404 with the reason: an unknown
 * role or gRPC service).
 */
export interface CheckUrlRefusal {
  readonly refused: 'route' | 'port' | 'query'
  readonly why: string
}

/** The parts of a check URL after the protocol and service, as a router splits them. */
export interface CheckUrlParts {
  protocol: string
  /** The port segment as written (digits, else the URL names no check). */
  port: string
  /**
   * Everything after the `/` that follows the port (path and `?query`), raw; `undefined` when
   * the URL ends at the port (`/tcp/db/5432`).
   */
  rest: string | undefined
}

/**
 * The check named by the parts of a URL or config entry, or why not.
 *
 * Refused: unknown protocol, a port that is not digits, a missing `/` after the port where the
 * protocol needs one (`http`, `https`) (all `route`); a port above 65535 (`port`); a query the
 * protocol rejects, such as an unknown role (`query`).
 */
export function parseCheckParts (parts: CheckUrlParts, registry: CheckerRegistry): CheckUrl | CheckUrlRefusal {
  const { protocol } = parts
  const checker = Object.hasOwn(registry, protocol) ? registry[protocol] : undefined
  if (checker === undefined) return { refused: 'route', why: `unknown protocol '${protocol}'` }
  if (!PORT_RE.test(parts.port)) return { refused: 'route', why: 'the port must be a number' }
  if (checker.pathRequired && parts.rest === undefined) return { refused: 'route', why: `${protocol} needs a / after the port` }
  const port = Number(parts.port)
  if (port > 65535) return { refused: 'port', why: `port ${parts.port.slice(0, 16)} is out of range 0-65535` }
  const rest = parts.rest ?? ''
  const q = rest.indexOf('?')
  const query = q === -1 ? rest : rest.slice(0, q)
  const queryString = q === -1 ? '' : rest.slice(q + 1)
  const rejected = checker.rejectsQuery?.(query, queryString)
  if (rejected !== undefined) return { refused: 'query', why: rejected }
  return { protocol, checker, port, query, queryString }
}

/** True for a refusal from {@link parseCheckParts}. */
export function isRefusal (parsed: CheckUrl | CheckUrlRefusal): parsed is CheckUrlRefusal {
  return 'refused' in parsed
}

/**
 * The raw path after `/<protocol>/<service>/<port>/` and the query string of a request URL
 * (`rawUrl` as the request line carries it, undecoded), for {@link CheckUrlParts.rest}.
 */
export function restOfCheckPath (rawUrl: string): string {
  const q = rawUrl.indexOf('?')
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
  let slash = 0
  for (let i = 0; i < 4 && slash !== -1; i++) slash = path.indexOf('/', i === 0 ? 0 : slash + 1)
  return `${slash === -1 ? '' : path.slice(slash + 1)}${q === -1 ? '' : rawUrl.slice(q)}`
}

const SPEC_RE = /^([a-z0-9]+)\/([0-9]{1,5})(?:\/(.*))?$/
const NAMED_RE = /^[a-z0-9]+\/([^/?]+)$/

/**
 * Parses a check as the config writes it: `<protocol>/<port>/<query>` (`http/8080/health`,
 * `tcp/5432`, `spool/0`), or `<protocol>/<name>` for a checker the service names
 * (`script/zk`). Port 0 is allowed only for checkers that probe nothing (`spool`: the whole
 * service).
 *
 * @throws HC_ERR_UNKNOWN_PROTOCOL or HC_ERR_CHECK_SPEC whose message says why, without the entry (the caller names the key and the
 *   entry): not a check, unknown protocol, a port out of range, a missing `/` the protocol
 *   needs, or a query the protocol rejects (an unknown role).
 */
export function parseCheckSpec (spec: string, registry: CheckerRegistry): CheckUrl {
  const protocol = /^[a-z0-9]+/.exec(spec)?.[0] ?? ''
  const checker = Object.hasOwn(registry, protocol) ? registry[protocol] : undefined
  if (checker === undefined) throw protocol === '' ? new HC_ERR_CHECK_SPEC('not a check') : new HC_ERR_UNKNOWN_PROTOCOL(protocol)
  if (checker.namedByService === true) {
    const name = NAMED_RE.exec(spec)?.[1]
    if (name === undefined || !isValidServiceName(name)) throw new HC_ERR_CHECK_SPEC(`expected ${protocol}/<name>`)
    return { protocol, checker, port: 0, query: '', queryString: '', name }
  }
  const match = SPEC_RE.exec(spec)
  if (match === null) throw new HC_ERR_CHECK_SPEC('not a check')
  const parsed = parseCheckParts({ protocol, port: match[2] as string, rest: match[3] }, registry)
  const portRange = `port must be 1-65535${checker.probes ? '' : ' (0 for the whole service)'}`
  if (isRefusal(parsed)) throw new HC_ERR_CHECK_SPEC(parsed.refused === 'port' ? portRange : parsed.why)
  if (parsed.port === 0 && checker.probes) throw new HC_ERR_CHECK_SPEC(portRange)
  return parsed
}
