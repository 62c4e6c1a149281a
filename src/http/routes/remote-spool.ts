/**
 * Remote spool changes: `POST /spool/<service>/<port>/<query>` (docs/security.md "Remote spool changes"), with our
 * security model around it. In order, before the body is read:
 *
 * 1. `allow_remote_spool_changes` false: 403 `remote spool changes are not enabled`;
 * 2. `remote_spool_allowed_cidrs` set and the client outside it: 403;
 * 3. `remote_spool_token` set and no matching `Authorization: Bearer <token>`: 401;
 * 4. a browser's cross-site request (`Sec-Fetch-Site` other than `same-origin`/`none`, or an
 *    `Origin` whose host is not the request's `Host`): 403 whatever the config, so a page on
 *    another site cannot submit a form to hacheck through an operator's browser (Fetch
 *    Metadata, W3C; `Origin`, RFC 6454). Tools and load balancers send neither header.
 *
 * Then the urlencoded body (at most 4 KiB, else 413) and the query string are read, every
 * field validated (`spool-change.ts`, 400 naming the field), and the change written atomically
 * before the 200. Port 0 means the whole service. Every change is logged with the client
 * address; so is every refusal. (ours) On a host with a fleet, a down (drain, maint) is first
 * checked against the service's disruption budget: 409 naming who is out when it would pass
 * it, or when etcd cannot be asked; `force=1` (query or body) skips the check
 * (docs/fleet.md "Disruption budgets").
 *
 * Not wrapped in fastify-plugin: its content-type parser and hooks stay local.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AllowList } from '../../cidr.js'
import type { Config } from '../../config/index.js'
import { HC_ERR_BAD_PORT, HC_ERR_BAD_TOKEN, HC_ERR_CLIENT_NOT_ALLOWED, HC_ERR_CROSS_SITE, HC_ERR_REMOTE_SPOOL_DISABLED } from '../../errors.js'
import type { LogLimiter } from '../../ops/log-limit.js'
import type { Metrics } from '../../ops/metrics.js'
import { collectFields, parseSpoolChange, type FormSource } from '../../spool/change.js'
import { isValidServiceName, type Spool } from '../../spool/spool.js'

/** Largest form body accepted, bytes. */
export const REMOTE_SPOOL_BODY_LIMIT = 4096

/** What the remote spool route needs. */
export interface RemoteSpoolOptions {
  config: Config
  spool: Spool
  metrics: Metrics
  /** (ours) The budget check, on a host with a fleet; throws a 409 coded error when refused. */
  budget?: { check: (service: string) => Promise<void> } | undefined
  /** Rate limit for refusal warnings (category `remote-spool-refused`, key the client); none: all written. */
  logLimiter?: Pick<LogLimiter, 'allow'>
}

interface Params {
  service: string
  port: string
  '*'?: string
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()

/**
 * A bearer-token check in constant time: both sides are hashed to equal-length digests and
 * compared with `timingSafeEqual`, so neither the token's length nor its prefix leaks.
 */
export function bearerTokenCheck (token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token)
  return (authorization) => {
    const match = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(authorization ?? '')
    const same = timingSafeEqual(digest(match?.[1] ?? ''), expected)
    return match !== null && same
  }
}

/**
 * Why a request is a browser's cross-site request, or null when it is not: `Sec-Fetch-Site`
 * other than `same-origin` or `none` (typed by the user), or an `Origin` (`null` included)
 * whose `host[:port]` differs from the `Host` header.
 */
export function crossSiteReason (headers: FastifyRequest['headers']): string | null {
  const site = headers['sec-fetch-site']
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site.slice(0, 32)}`
  const origin = headers.origin
  if (origin === undefined) return null
  let host: string | null = null
  try {
    host = new URL(origin).host
  } catch {}
  return host !== null && host !== '' && host === headers.host ? null : 'Origin does not match Host'
}

/** (ours) `force=1` in the query string or the body. */
function isForced (...sources: unknown[]): boolean {
  return sources.some((s) => s !== null && typeof s === 'object' && (s as Record<string, unknown>).force === '1')
}

/** Registers `POST /spool/:service/:port[/*]`. */
export default async function remoteSpoolRoutes (app: FastifyInstance, opts: RemoteSpoolOptions): Promise<void> {
  const { config, spool, metrics, logLimiter } = opts
  const warnable = (client: string): boolean => logLimiter?.allow('remote-spool-refused', client) !== false
  const clients = config.remote_spool_allowed_cidrs === null ? null : new AllowList(config.remote_spool_allowed_cidrs)
  const tokenOk = config.remote_spool_token === null ? null : bearerTokenCheck(config.remote_spool_token)
  if (config.allow_remote_spool_changes && tokenOk === null) {
    app.log.warn({ remote_spool_allowed_cidrs: config.remote_spool_allowed_cidrs }, 'allow_remote_spool_changes is on without remote_spool_token: ' +
      `any client ${clients === null ? 'that can reach this port' : 'in remote_spool_allowed_cidrs'} can take services down or bring them back; set remote_spool_token (docs/security.md "Remote spool changes")`)
  }

  // Only urlencoded forms here: JSON or text bodies are a 415, never guessed at.
  app.removeAllContentTypeParsers()
  await app.register(formbody, { bodyLimit: REMOTE_SPOOL_BODY_LIMIT })

  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    if (!config.allow_remote_spool_changes) throw new HC_ERR_REMOTE_SPOOL_DISABLED()
    if (clients !== null && !clients.allows(request.ip)) {
      if (warnable(request.ip)) request.log.warn({ client: request.ip, url: request.url.slice(0, 512) }, 'remote spool change refused: client not in remote_spool_allowed_cidrs')
      throw new HC_ERR_CLIENT_NOT_ALLOWED(request.ip)
    }
    const crossSite = crossSiteReason(request.headers)
    if (crossSite !== null) {
      if (warnable(request.ip)) request.log.warn({ client: request.ip, url: request.url.slice(0, 512) }, `remote spool change refused: cross-site browser request (${crossSite})`)
      throw new HC_ERR_CROSS_SITE(crossSite)
    }
    if (tokenOk !== null && !tokenOk(request.headers.authorization)) {
      if (warnable(request.ip)) request.log.warn({ client: request.ip, url: request.url.slice(0, 512) }, 'remote spool change refused: missing or wrong token')
      reply.header('www-authenticate', 'Bearer realm="hacheck"')
      throw new HC_ERR_BAD_TOKEN()
    }
  })
  app.addHook('onResponse', async (_request, reply) => { metrics.observeRemoteSpool(reply.statusCode) })

  const handler = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<FastifyReply> => {
    const { service, port: portText } = request.params
    if (!isValidServiceName(service) || !/^[0-9]+$/.test(portText)) {
      return reply.code(404).type('text/html; charset=UTF-8').send('Not Found')
    }
    const port = Number(portText)
    if (port > 65535) throw new HC_ERR_BAD_PORT(`port ${portText} is out of range 0-65535`)
    const change = parseSpoolChange(collectFields(request.query as FormSource, request.body as FormSource))
    const key = { service, port }
    if (change.status === 'down' && opts.budget !== undefined && !isForced(request.query, request.body)) {
      try {
        await opts.budget.check(service)
      } catch (err) {
        if (warnable(request.ip)) request.log.warn({ client: request.ip, service, port, err: (err as Error).message }, 'remote spool change refused by the disruption budget')
        throw err
      }
    }
    if (change.status === 'up') {
      await spool.up(key)
    } else {
      await spool.down(key, { reason: change.reason, expiration: change.expiration, creation: change.creation ?? undefined, state: change.state })
    }
    request.log.child({}, { level: 'info' }).info({ client: request.ip, service, port, ...change }, 'remote spool change')
    return reply.code(200).type('text/html; charset=UTF-8').send()
  }

  const routeOptions = { bodyLimit: REMOTE_SPOOL_BODY_LIMIT }
  app.post('/spool/:service/:port/*', routeOptions, handler)
  app.post('/spool/:service/:port', routeOptions, handler)
}
