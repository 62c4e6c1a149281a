/**
 * The check routes: `GET|HEAD /:protocol/:service/:port/*` (and `/:protocol/:service/:port`
 * for protocols that allow it), parsed with the one check-URL grammar (`check-url.ts`).
 * Generic: the protocol is looked up in the registry, never named here. docs/http-api.md
 * "Check URLs".
 */
import { STATUS_CODES } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isRefusal, isValidServiceName, parseCheckParts, restOfCheckPath, type CheckUrl, type CheckUrlRefusal } from '../../check-url.js'
import { checkers as defaultCheckers, type CheckerRegistry, type CheckTarget, type Protocol } from '../../checkers/index.js'
import { tenthsOfMs } from '../../checkers/status.js'
import type { CheckGuard } from '../../checks/check-guard.js'
import type { HealthService } from '../../checks/health.js'
import type { CheckResult } from '../../checks/result.js'
import type { ServiceLog } from '../../checks/service-log.js'
import { resolveTarget } from '../../checks/target.js'
import { HC_ERR_BAD_PORT } from '../../errors.js'
import type { LogLimiter } from '../../ops/log-limit.js'
import type { Metrics } from '../../ops/metrics.js'
import { normaliseKey } from '../../spool/spool.js'

/** What the check routes need, built once per server. */
export interface CheckRoutesOptions {
  health: HealthService
  serviceLog: ServiceLog
  localAddresses: ReadonlySet<string>
  /** Refuses probes to hosts outside `allowed_check_networks`, before any connection. */
  checkGuard: CheckGuard
  metrics: Metrics
  /** The checker registry the routes serve; the built-in one by default (tests add their own). */
  checkers?: CheckerRegistry
  /** Rate limit for refused-target warnings (category `check-guard`, key the client); none: all written. */
  logLimiter?: Pick<LogLimiter, 'allow'>
}

interface CheckParams {
  protocol: string
  service: string
  port: string
  '*'?: string
}

/** The URL shapes of a check; the second only for protocols whose `pathRequired` is false. */
export const CHECK_URLS = ['/:protocol/:service/:port/*', '/:protocol/:service/:port'] as const

const HTML = 'text/html; charset=UTF-8'

/** (ours) Response header with the HAProxy check status of the answer (`L7OK`, `L4CON`, ...). */
export const STATUS_HEADER = 'x-hacheck-status'
/** (ours) Response header with the probe duration in milliseconds (0.1 ms resolution; 0 for spool answers). */
export const DURATION_HEADER = 'x-hacheck-duration-ms'

/**
 * The check a request names, or why it names none: the router's decoded protocol, service and
 * port, and the raw rest of the URL (query and query string stay as sent).
 */
function parseRequest (request: FastifyRequest<{ Params: CheckParams }>, registry: CheckerRegistry): CheckUrl | CheckUrlRefusal {
  const { protocol, service, port } = request.params
  if (!isValidServiceName(service)) return { refused: 'route', why: 'not a service name' }
  const rest = request.params['*'] === undefined ? undefined : restOfCheckPath(request.url)
  return parseCheckParts({ protocol, port, rest }, registry)
}

/** The HTTP status for a checker code: the code when it is a standard status, else 503. */
export function httpStatusFor (code: number): number {
  return code >= 200 && code <= 599 && STATUS_CODES[code] !== undefined ? code : 503
}

function notFound (reply: FastifyReply): FastifyReply {
  return reply.code(404).type(HTML).send('Not Found')
}

/** Registers the check routes. Not wrapped in fastify-plugin: its hooks stay local. */
export default async function checkRoutes (app: FastifyInstance, opts: CheckRoutesOptions): Promise<void> {
  const { health, serviceLog, localAddresses, checkGuard, metrics, logLimiter } = opts
  const checkers = opts.checkers ?? defaultCheckers

  async function handleCheck (request: FastifyRequest<{ Params: CheckParams }>, reply: FastifyReply): Promise<FastifyReply> {
    const check = parseRequest(request, checkers)
    if (isRefusal(check)) {
      if (check.refused === 'port') throw new HC_ERR_BAD_PORT(check.why)
      // (ours) A query the protocol gives a meaning to (a role, a gRPC service) must be one it knows.
      return check.refused === 'query' ? reply.code(404).type(HTML).send(`Not Found: ${check.why}`) : notFound(reply)
    }
    const { checker, query, queryString } = check
    const protocol = check.protocol as Protocol
    const { host, port } = resolveTarget(check.port, request.headers, localAddresses)
    // A checker the service names (script) contacts nothing: its port is only handed over.
    const connects = checker.probes && checker.namedByService !== true
    if (port === 0 && connects) throw new HC_ERR_BAD_PORT(`port 0 cannot be checked by ${protocol}`)
    const { service } = request.params
    // Every spool file of the check must be a possible file name (HC_ERR_SPOOL_NAME, a 400),
    // else the lookup would fail and answer a false down.
    normaliseKey({ service, port, host })
    let result: CheckResult
    // The guard runs before anything connects; spool-only protocols and scripts never connect.
    const decision = !connects
      ? { allowed: true as const, address: host }
      : checkGuard.checkLiteral(host) ?? await checkGuard.check(host)
    if (decision.allowed) {
      const target: CheckTarget = { service, host, address: decision.address, port, query, queryString, headers: request.headers }
      result = await health.check({ protocol, target, noCache: request.headers.pragma === 'no-cache', client: request.ip })
    } else {
      if (logLimiter?.allow('check-guard', request.ip) !== false) request.log.warn({ client: request.ip, protocol, service, host, port }, decision.message)
      // Nothing was sent anywhere: a socket-level refusal on our side.
      result = { code: decision.status, message: decision.message, checkStatus: 'SOCKERR', durationMs: 0 }
    }
    const status = result.code === 200 ? 200 : httpStatusFor(result.code)
    serviceLog.record(service, status, request.ip, result)
    metrics.observeCheck(protocol, status, result.checkStatus)
    reply.code(status).type(HTML)
      .header(STATUS_HEADER, result.checkStatus)
      .header(DURATION_HEADER, String(tenthsOfMs(result.durationMs)))
    return status === 204 ? reply.send() : reply.send(result.message)
  }

  async function methodNotAllowed (request: FastifyRequest<{ Params: CheckParams }>, reply: FastifyReply): Promise<FastifyReply> {
    const check = parseRequest(request, checkers)
    if (isRefusal(check) && check.refused === 'route') return notFound(reply)
    return reply.code(405).header('allow', 'GET, HEAD').type(HTML).send('Method Not Allowed')
  }

  for (const url of CHECK_URLS) {
    app.get(url, handleCheck)
    // Answered in onRequest, before the body parser, so any body (a form included) gets the 405.
    app.route({ method: ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], url, onRequest: methodNotAllowed, handler: methodNotAllowed })
  }
}
