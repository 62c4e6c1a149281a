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
import { isUtf8 } from 'node:buffer'
import type { Config } from '../config/index.js'
import { VERSION } from '../version.js'
import { describeError, errorCode, failureStatus, seconds, type Phase } from './status.js'
import { down, type Checker, type CheckContext, type CheckOutcome, type CheckTarget } from './types.js'

/**
 * Most bytes of an upstream body passed through; the rest is discarded. Also the most memory a
 * body takes once decoded (see {@link decodeBody}).
 */
export const MAX_BODY_BYTES = 64 * 1024

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

/** The request headers of a probe: User-Agent, then {@link forwardedHeaders}. */
export function probeHeaders (target: CheckTarget, ctx: CheckContext): Record<string, string> {
  return { 'user-agent': `hastate ${VERSION}`, ...forwardedHeaders(target, ctx.config) }
}

/** The upstream URL's origin; IPv6 addresses in brackets. */
function origin (scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`
}

const BEYOND_LATIN1 = /[\u0100-\uffff]/

/** `bytes` without a UTF-8 sequence cut short at its end (the byte limit may fall inside one). */
function wholeCharacters (bytes: Buffer): Buffer {
  const n = bytes.length
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = bytes[n - back] as number
    if ((b & 0xc0) === 0x80) continue // a continuation byte: the sequence starts further back
    // Lead bytes: C2-DF start 2 bytes, E0-EF 3, F0-F4 4; anything else is whole (or invalid).
    const length = b >= 0xf5 || b < 0xc2 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2
    return length > back ? bytes.subarray(0, n - back) : bytes
  }
  return bytes
}

/**
 * An upstream body as text that takes at most {@link MAX_BODY_BYTES} of memory, decoded once.
 * V8 stores a string in one byte per character while every character is Latin-1, and in two as
 * soon as one is not (bytes that are not UTF-8 decode to U+FFFD, which is not). So a body is
 * kept whole (its first 64 KiB) when its text fits that way, and otherwise only its first
 * 32 KiB are decoded: a body that is not valid UTF-8 can no longer double in memory (nor in the
 * cache). A multi-byte character cut by a limit is dropped, not replaced.
 */
export function decodeBody (raw: Buffer): string {
  const bytes = wholeCharacters(raw.subarray(0, MAX_BODY_BYTES))
  const half = bytes.length > MAX_BODY_BYTES / 2 ? wholeCharacters(bytes.subarray(0, MAX_BODY_BYTES / 2)) : bytes
  if (!isUtf8(bytes)) return half.toString('utf8') // U+FFFD inside: two bytes per character
  const text = bytes.toString('utf8')
  if (text.length * 2 <= MAX_BODY_BYTES || !BEYOND_LATIN1.test(text)) return text
  return half.toString('utf8')
}

async function readCapped (body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= MAX_BODY_BYTES) break
  }
  return decodeBody(Buffer.concat(chunks))
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
  return { check, pathRequired: true, probes: true, forwardedHeaders }
}

/** The `http` protocol (see the file's description). */
export const http = httpChecker('http')
