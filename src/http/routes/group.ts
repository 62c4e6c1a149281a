/**
 * (ours) `GET|HEAD /group/<name>/<port>/`: a check group (see `checks/groups.ts`) as one answer.
 *
 * 200 when every member passes, else `group_failure_code` (503 by default, 504 as gruntwork's
 * health-checker); a spool `down`/`maint` file for the group answers 503 and a `drain` file 404,
 * as single checks do. The body has one line per member, `<member> <status> <message>`
 * (`tcp/5432 200 Connected in 0.00s`), or JSON with `Accept: application/json`.
 * `X-Hacheck-Status` is the first failing member's check status. An unknown group is a 404.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { tenthsOfMs } from '../../checkers/status.js'
import type { GroupResult, GroupService } from '../../checks/groups.js'
import type { ServiceLog } from '../../checks/service-log.js'
import { HC_ERR_BAD_PORT } from '../../errors.js'
import type { Metrics } from '../../ops/metrics.js'
import { isValidServiceName } from '../../spool/spool.js'
import { DURATION_HEADER, STATUS_HEADER, httpStatusFor } from './check.js'

/** What the group route needs. */
export interface GroupRoutesOptions {
  groups: GroupService
  serviceLog: ServiceLog
  metrics: Metrics
}

interface Params {
  name: string
  port: string
}

/** Longest member message shown in an answer, characters (an HTTP member may pass 64 KiB through). */
export const MAX_MEMBER_MESSAGE = 1024

const TEXT = 'text/plain; charset=UTF-8'
const JSON_TYPE = 'application/json; charset=UTF-8'
const PORT_RE = /^[0-9]{1,5}$/

/** `text` on one line (control characters become spaces), at most {@link MAX_MEMBER_MESSAGE} characters. */
export function oneLine (text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return flat.length > MAX_MEMBER_MESSAGE ? `${flat.slice(0, MAX_MEMBER_MESSAGE)}...` : flat
}

/** The text body: the spool's line when it decided, then one line per member. */
export function groupText (result: GroupResult): string {
  const lines = result.spool !== undefined ? [oneLine(result.message)] : []
  for (const { spec, result: r } of result.members) lines.push(`${spec} ${httpStatusFor(r.code)} ${oneLine(r.message)}`.trimEnd())
  return `${lines.join('\n')}\n`
}

/** The JSON body. */
export function groupJson (result: GroupResult): Record<string, unknown> {
  return {
    group: result.group,
    port: result.port,
    code: result.code,
    check_status: result.checkStatus,
    message: oneLine(result.message),
    duration_ms: tenthsOfMs(result.durationMs),
    members: result.members.map(({ spec, result: r }) => ({
      check: spec,
      code: httpStatusFor(r.code),
      check_status: r.checkStatus,
      duration_ms: tenthsOfMs(r.durationMs),
      message: oneLine(r.message)
    }))
  }
}

function wantsJson (request: FastifyRequest): boolean {
  const accept = request.headers.accept
  return typeof accept === 'string' && accept.length < 1024 && /\bapplication\/json\b/i.test(accept)
}

/** Registers the group route. Not wrapped in fastify-plugin: its hooks stay local. */
export default async function groupRoutes (app: FastifyInstance, opts: GroupRoutesOptions): Promise<void> {
  const { groups, serviceLog, metrics } = opts

  async function handle (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<FastifyReply> {
    const { name, port: portText } = request.params
    if (!isValidServiceName(name) || !PORT_RE.test(portText) || !groups.has(name)) {
      return await reply.code(404).type(TEXT).send('Not Found: no such group\n')
    }
    const port = Number(portText)
    if (port > 65535) throw new HC_ERR_BAD_PORT(`port ${portText} is out of range 0-65535`)
    const result = await groups.run(name, port, { noCache: request.headers.pragma === 'no-cache', client: request.ip })
    const status = httpStatusFor(result.code)
    serviceLog.record(name, status, request.ip, { checkStatus: result.checkStatus, durationMs: result.durationMs })
    metrics.observeCheck('group', status, result.checkStatus)
    reply.code(status)
      .header(STATUS_HEADER, result.checkStatus)
      .header(DURATION_HEADER, String(tenthsOfMs(result.durationMs)))
      .header('cache-control', 'no-store')
    if (wantsJson(request)) return await reply.type(JSON_TYPE).send(groupJson(result))
    return await reply.type(TEXT).send(groupText(result))
  }

  async function methodNotAllowed (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    return await reply.code(405).header('allow', 'GET, HEAD').type(TEXT).send('Method Not Allowed\n')
  }

  for (const url of ['/group/:name/:port', '/group/:name/:port/']) {
    app.get(url, handle)
    app.route({ method: ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], url, handler: methodNotAllowed })
  }
}
