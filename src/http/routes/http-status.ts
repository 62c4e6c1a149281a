/**
 * (ours) The http_status route: with `http_status_root` set, `GET /status` whose query has any
 * of `SERVICE`, `PORT`, `VIP` answers as the http_status daemon does for LVS/keepalived real
 * servers and HAProxy's `http-check disable-on-404`:
 *
 * - 200 when the presence file exists (`<SERVICE>.<PORT>`, `<SERVICE>`, or `status.html`
 *   without SERVICE; see `spool/presence.ts`) and every VIP (comma-separated, or repeated) is an
 *   address of a local interface (an LVS-DR real server holds its VIPs on loopback);
 * - else 404 with a one-line reason; a hacheck `down`/`drain`/`maint` spool file for the same
 *   service (and port; `all` without SERVICE) answers 404 too, so `hadown` works here as well;
 * - a malformed query (a SERVICE that is not a service name, a PORT that is not 1-65535, a VIP
 *   that is not an IP address, a parameter given twice, too many VIPs) is a 400.
 *
 * `/status` without those parameters stays hacheck's JSON (`status.ts` asks
 * {@link HttpStatusAnswer} first). Interface addresses are read at most once a second: VIPs
 * move during a failover, and a read costs a getifaddrs(3).
 */
import { isIP } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { localAddresses, normaliseHost } from '../../checks/target.js'
import { HC_ERR_BAD_QUERY } from '../../errors.js'
import { presence, presenceFileName } from '../../spool/presence.js'
import { ALL, describeDown, type Spool, type SpoolState } from '../../spool/spool.js'

/** Answers a `/status` request as http_status, or returns undefined when it is not one. */
export type HttpStatusAnswer = (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined

/** What the http_status route needs. */
export interface HttpStatusOptions {
  /** `http_status_root`. */
  root: string
  /** hacheck's spool: a down file there answers 404 here too. */
  spool: Spool
  /** This machine's interface addresses (normalised); read at most once a second by default. */
  interfaceAddresses?: () => ReadonlySet<string>
}

/** Most VIPs one request may name. */
export const MAX_VIPS = 32

const PARAMS = ['SERVICE', 'PORT', 'VIP'] as const
const TEXT = 'text/plain; charset=UTF-8'

type Query = Record<string, string | string[] | undefined>

/** True when the query names any of `SERVICE`, `PORT`, `VIP` (names are case-sensitive, as the original's). */
export function isHttpStatusQuery (query: unknown): boolean {
  if (query === null || typeof query !== 'object') return false
  return PARAMS.some((name) => Object.hasOwn(query, name))
}

/** A getter of {@link localAddresses} that reads the interfaces at most once per `ttlMs`. */
export function recentInterfaceAddresses (ttlMs = 1000, nowMs: () => number = () => performance.now()): () => ReadonlySet<string> {
  let readAt = Number.NEGATIVE_INFINITY
  let addresses: ReadonlySet<string> = new Set()
  return () => {
    if (nowMs() - readAt >= ttlMs) {
      addresses = localAddresses()
      readAt = nowMs()
    }
    return addresses
  }
}

function single (query: Query, name: string): string | undefined {
  const value = query[name]
  if (Array.isArray(value)) throw new HC_ERR_BAD_QUERY(`${name} given more than once`)
  return value
}

/** The parsed parameters of an http_status request. */
export interface HttpStatusQuery {
  service?: string
  port?: number
  vips: string[]
}

/**
 * Validates an http_status query.
 *
 * @throws HC_ERR_BAD_QUERY (400) for a repeated SERVICE/PORT, a PORT that is not 1-65535, a
 *   VIP that is not an IP address, more than {@link MAX_VIPS} VIPs; HC_ERR_SPOOL_NAME (400)
 *   for a SERVICE that is not a service name.
 */
export function parseHttpStatusQuery (query: Query): HttpStatusQuery {
  const service = single(query, 'SERVICE')
  const portText = single(query, 'PORT')
  let port: number | undefined
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new HC_ERR_BAD_QUERY('PORT must be a port 1-65535')
    }
    port = Number(portText)
  }
  presenceFileName({ service, port }) // validates the service name
  const raw = query.VIP
  const vips: string[] = []
  for (const list of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
    for (const part of list.split(',')) {
      const vip = part.trim()
      if (vips.length >= MAX_VIPS) throw new HC_ERR_BAD_QUERY(`at most ${MAX_VIPS} VIPs`)
      if (isIP(vip) === 0) throw new HC_ERR_BAD_QUERY(`VIP ${JSON.stringify(vip.slice(0, 64))} is not an IP address`)
      vips.push(vip)
    }
  }
  return { service, port, vips }
}

/** The spool's word on the service (or on the host, `all`, without SERVICE); unreadable is down. */
function spoolState (spool: Spool, q: HttpStatusQuery): SpoolState | string {
  try {
    return q.service === undefined ? spool.status({ service: ALL }) : spool.isUp(q.service, q.port)
  } catch (err) {
    return `spool lookup failed: ${(err as Error).message}`
  }
}

/**
 * The answer to a valid http_status query: `[status, one-line reason]`.
 */
export function decideHttpStatus (q: HttpStatusQuery, opts: Required<HttpStatusOptions>): [200 | 404, string] {
  const state = spoolState(opts.spool, q)
  if (typeof state === 'string') return [404, `Not Found - ${state}`]
  if (!state.up) return [404, `Not Found - ${describeDown(state.entry)}`]
  const file = presenceFileName(q)
  const found = presence(opts.root, file)
  if (!found.present) return [404, `Not Found - ${found.reason}`]
  if (q.vips.length === 0) return [200, `OK - ${file} active`]
  const local = opts.interfaceAddresses()
  const missing = q.vips.find((vip) => !local.has(normaliseHost(vip)))
  if (missing !== undefined) return [404, `Not Found - VIP ${missing} is not an address of this host`]
  return [200, `OK - ${file} active, VIP ${q.vips.join(',')} local`]
}

/** Builds the {@link HttpStatusAnswer} that `/status` consults. */
export function httpStatusAnswer (opts: HttpStatusOptions): HttpStatusAnswer {
  const full: Required<HttpStatusOptions> = { ...opts, interfaceAddresses: opts.interfaceAddresses ?? recentInterfaceAddresses() }
  return (request, reply) => {
    const query = request.query as Query
    if (!isHttpStatusQuery(query)) return undefined
    const [status, line] = decideHttpStatus(parseHttpStatusQuery(query), full)
    return reply.code(status).type(TEXT).header('cache-control', 'no-store').send(`${line}\n`)
  }
}
