/**
 * The `http` protocol (and, through {@link httpChecker}, `https`): GET
 * `<scheme>://<host>:<port>/<query>?<original query string>` and pass the upstream's status and
 * body through (CONTRACT section 3).
 *
 * Proves: a fresh TCP (and TLS) connection works and the application answered this URL with a
 * status of its choosing within `healthcheck_timeout`. Does not prove other URLs work, that
 * the certificate is valid (https does not verify it, as the reference), or anything about a
 * redirect's target (redirects are not followed; a 3xx passes through without `Location`).
 *
 * Each probe uses its own connection, closed afterwards: reusing a keep-alive connection
 * would hide a service that no longer accepts new ones.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { isIP, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { VERSION } from '../version.js'
import { describeError, errorCode, failureStatus, seconds, type Phase } from './status.js'
import { down, type Checker, type CheckContext, type CheckOutcome, type CheckTarget } from './types.js'

/** Most bytes of an upstream body passed through; the rest is discarded. */
export const MAX_BODY_BYTES = 64 * 1024

/** Headers that describe one connection, never forwarded whatever `http_headers_to_copy` says. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'content-length', 'te', 'trailer', 'expect', 'proxy-connection'])

/** The request headers of a probe: User-Agent, the copied headers, the service name header. */
export function probeHeaders (target: CheckTarget, ctx: CheckContext): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': `hastate ${VERSION}` }
  const incoming: Readonly<IncomingHttpHeaders> = target.headers
  for (const name of ctx.config.http_headers_to_copy) {
    const lower = name.toLowerCase()
    const value = incoming[lower]
    if (value === undefined || HOP_BY_HOP.has(lower)) continue
    headers[lower] = Array.isArray(value) ? value.join(', ') : value
  }
  if (ctx.config.service_name_header !== null) headers[ctx.config.service_name_header.toLowerCase()] = target.service
  return headers
}

/** The upstream URL's origin; IPv6 addresses in brackets. */
function origin (scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`
}

async function readCapped (body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= MAX_BODY_BYTES) break
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8')
}

/**
 * A checker for `http` or `https`. https does not verify certificates and sends SNI from the
 * copied Host header (when it names a host, not an address).
 */
export function httpChecker (scheme: 'http' | 'https'): Checker {
  async function check (target: CheckTarget, ctx: CheckContext): Promise<CheckOutcome> {
    // Loaded on the first http(s) probe: undici adds about 20 MB to the resident size of a
    // process, and many hosts only ever answer spool checks. Later imports are a cache lookup.
    const { Client, buildConnector } = await import('undici')
    const started = performance.now()
    let phase: Phase = 'connect'
    const connector = buildConnector({ rejectUnauthorized: false, timeout: ctx.timeoutMs, maxCachedSessions: 0 })
    const client = new Client(origin(scheme, target.address, target.port), {
      connect: (opts, callback) => {
        // undici's types say void; the connector returns the socket it created (lib/core/connect.js).
        const socket = connector(opts, callback) as unknown as Socket
        // TCP is up: further failures are TLS (https) or HTTP ones.
        socket.once('connect', () => { phase = scheme === 'https' ? 'tls' : 'protocol' })
        socket.once('secureConnect', () => { phase = 'protocol' })
        return socket
      },
      headersTimeout: ctx.timeoutMs,
      bodyTimeout: ctx.timeoutMs,
      pipelining: 1
    })
    // undici leaves a request queued while its connection is still being made (TCP connect,
    // TLS handshake) and does not abort it on the signal; its connect timeout fires up to a
    // second late. Destroying the client fails the request at once, in the phase it was in.
    const onAbort = (): void => { client.destroy(new Error('probe timed out')).catch(() => {}) }
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    try {
      const path = `/${target.query}${target.queryString === '' ? '' : `?${target.queryString}`}`
      const res = await client.request({
        method: 'GET',
        path,
        headers: probeHeaders(target, ctx),
        signal: ctx.signal,
        reset: true // Connection: close; this connection is never reused
      })
      const body = await readCapped(res.body)
      const code = res.statusCode
      return { code, message: body, checkStatus: code >= 200 && code < 400 ? 'L7OK' : 'L7STS' }
    } catch (err) {
      const took = seconds(performance.now() - started)
      const timedOut = ctx.signal.aborted || /Timeout/i.test((err as Error).name ?? '') || errorCode(err) === 'ETIMEDOUT'
      const status = failureStatus(phase, timedOut, errorCode(err))
      if (timedOut) {
        return down(phase === 'connect' ? `Connection timed out after ${took}s` : `Timed out waiting for the response after ${took}s`, status)
      }
      return down(`Unhandled exception ${describeError(err)}`, status)
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
      client.destroy().catch(() => {})
    }
  }
  return { check, pathRequired: true, probes: true }
}

/** The `http` protocol (see the file's description). */
export const http = httpChecker('http')
