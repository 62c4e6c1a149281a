/**
 * The `http` protocol (and, through {@link httpChecker}, `https`): GET
 * `<scheme>://<host>:<port>/<query>?<original query string>` and pass the upstream's status and
 * body through (docs/http-api.md "Check routes").
 *
 * Proves: a fresh TCP (and TLS) connection works and the application answered this URL with a
 * status of its choosing within `healthcheck_timeout`. Does not prove other URLs work, that
 * the certificate is valid (https does not verify it, as the reference), or anything about a
 * redirect's target (redirects are not followed; a 3xx passes through without `Location`).
 *
 * Each probe uses its own connection, closed afterwards: reusing a keep-alive connection
 * would hide a service that no longer accepts new ones. The probe is `node:http`'s client on a
 * socket it opens itself (no agent, no pool): the cheapest client here per probe (about half the
 * CPU of a new undici `Client`, and no library to load; see bench/RESULTS.md).
 */
import { request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { connect as tcpConnect, isIP, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { connect as tlsConnect } from 'node:tls'
import type { Config } from '../config/index.js'
import { VERSION } from '../version.js'
import { BodyCollector } from './http-body.js'
import { describeError, errorCode, failureStatus, seconds, type Phase } from './status.js'
import { down, type Checker, type CheckContext, type CheckOutcome, type CheckTarget } from './types.js'

/** Headers that describe one connection, never forwarded whatever `http_headers_to_copy` says. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'content-length', 'te', 'trailer', 'expect', 'proxy-connection'])

/**
 * The headers a probe takes from the request: the `http_headers_to_copy` ones it carries (never
 * hop-by-hop ones) and `service_name_header` with the service name. They join the cache key.
 */
export function forwardedHeaders (target: CheckTarget, config: Config): Record<string, string> {
  const headers: Record<string, string> = {}
  const incoming: Readonly<IncomingHttpHeaders> = target.headers
  for (const name of config.http_headers_to_copy) {
    const lower = name.toLowerCase()
    const value = incoming[lower]
    if (value === undefined || HOP_BY_HOP.has(lower)) continue
    headers[lower] = Array.isArray(value) ? value.join(', ') : value
  }
  if (config.service_name_header !== null) headers[config.service_name_header.toLowerCase()] = target.service
  return headers
}

/**
 * The request headers of a probe: User-Agent, then {@link forwardedHeaders}, then
 * `Connection: close` (the connection is never reused). Without a copied `Host`, Node sends
 * `<address>:<port>`.
 */
export function probeHeaders (target: CheckTarget, config: Config): OutgoingHttpHeaders {
  return { 'user-agent': `hastate ${VERSION}`, ...forwardedHeaders(target, config), connection: 'close' }
}

/** The TLS server name: the host part of a `Host` header that names a host, not an address. */
function serverName (host: OutgoingHttpHeaders[string]): string | undefined {
  if (typeof host !== 'string') return undefined
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:[0-9]*$/, '')
  return name === '' || isIP(name) !== 0 ? undefined : name
}

/**
 * A checker for `http` or `https`. https does not verify certificates and sends SNI from the
 * copied Host header (when it names a host, not an address). A probe fails in the phase it
 * reached (see status.ts): connect (L4), TLS handshake (L6), HTTP (L7); `ctx.signal` aborts it
 * in any of them at once.
 */
export function httpChecker (scheme: 'http' | 'https'): Checker {
  function check (target: CheckTarget, ctx: CheckContext): Promise<CheckOutcome> {
    return new Promise((resolve) => {
      const started = performance.now()
      let phase: Phase = 'connect'
      let settled = false
      let socket: Socket | undefined
      const finish = (outcome: CheckOutcome): void => {
        if (settled) return
        settled = true
        ctx.signal.removeEventListener('abort', onAbort)
        socket?.destroy() // also ends the request and the response
        resolve(outcome)
      }
      const fail = (err: unknown): void => {
        finish(down(`Unhandled exception ${describeError(err)}`, failureStatus(phase, false, errorCode(err))))
      }
      function onAbort (): void {
        const took = seconds(performance.now() - started)
        const message = phase === 'connect' ? `Connection timed out after ${took}s` : `Timed out waiting for the response after ${took}s`
        finish(down(message, failureStatus(phase, true)))
      }
      try {
        const headers = probeHeaders(target, ctx.config)
        const opened: Socket = socket = scheme === 'https'
          ? tlsConnect({ host: target.address, port: target.port, servername: serverName(headers.host), rejectUnauthorized: false })
          : tcpConnect({ host: target.address, port: target.port })
        // TCP is up: further failures are TLS (https) or HTTP ones.
        opened.once('connect', () => { phase = scheme === 'https' ? 'tls' : 'protocol' })
        if (scheme === 'https') opened.once('secureConnect', () => { phase = 'protocol' })
        const req = request({
          method: 'GET',
          host: target.address,
          port: target.port,
          path: `/${target.query}${target.queryString === '' ? '' : `?${target.queryString}`}`,
          headers,
          createConnection: () => opened
        })
        req.on('error', fail)
        req.on('response', (res: IncomingMessage) => {
          const code = res.statusCode ?? 0
          const body = new BodyCollector()
          const done = (): void => { finish({ code, message: body.text(), checkStatus: code >= 200 && code < 400 ? 'L7OK' : 'L7STS' }) }
          res.on('data', (chunk: Buffer) => { if (body.add(chunk)) done() })
          res.on('end', done)
          res.on('error', fail)
        })
        req.end()
      } catch (err) {
        // A value the client library refuses (a header, a server name): nothing was sent.
        fail(err)
        return
      }
      if (ctx.signal.aborted) onAbort()
      else ctx.signal.addEventListener('abort', onAbort)
    })
  }
  return { check, pathRequired: true, probes: true, forwardedHeaders }
}

/** The `http` protocol (see the file's description). */
export const http = httpChecker('http')
