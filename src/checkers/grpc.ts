/**
 * (ours) The `grpc` protocol (and, through {@link grpcChecker}, `grpcs`): gRPC's standard
 * health check, `grpc.health.v1.Health/Check`, with `@grpc/grpc-js`. The query is the gRPC
 * service name (`/grpc/api/50051/my.pkg.Orders`); empty asks about the server as a whole.
 *
 * SERVING passes (`status SERVING`); NOT_SERVING, UNKNOWN, an unknown service (NOT_FOUND) or
 * a server without the health service (UNIMPLEMENTED) fail with the status in the message.
 *
 * Proves: the server accepts a fresh HTTP/2 connection (over TLS for grpcs), and its health
 * service reports the service SERVING. Does not prove the service's own methods work (the
 * health status is what the server chooses to report), nor that the certificate is valid
 * (grpcs does not verify it, as https does not).
 *
 * Each probe has its own channel with a local subchannel pool, so no connection is shared
 * between probes or reused, and no proxy (`grpc_proxy`, `https_proxy`) is ever used. hacheck
 * makes the connection's TCP and TLS layers itself (a channel credentials object, grpc-js's
 * extension point for them), so it sees how far a probe got and reports HAProxy's status for
 * that phase. grpc-js gives a connect attempt no time limit of its own: one that outlives the
 * probe is closed as soon as it completes.
 */
import { isIP, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type * as Grpc from '@grpc/grpc-js'
import { decodeHealthCheckResponse, encodeHealthCheckRequest, HEALTH_CHECK_METHOD, SERVING, servingStatusName } from './grpc-health.js'
import { clip, describeError, failureStatus, quoted, seconds, type Phase } from './status.js'
import { down, up, type Checker, type CheckContext, type CheckOutcome, type CheckTarget } from './types.js'

/** A gRPC service name: `package.Service` (letters, digits, `_`, `.`, `-`); empty for the whole server. */
const SERVICE_RE = /^[A-Za-z0-9_.-]{0,200}$/

/**
 * Channel options of a probe: its own subchannel (never a pooled connection), no proxy, no
 * retries, no name resolution of service configs, tiny message limits (a health response is
 * two bytes).
 */
const CHANNEL_OPTIONS: Grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.enable_http_proxy': 0,
  'grpc.enable_retries': 0,
  'grpc.enable_channelz': 0,
  'grpc.service_config_disable_resolution': 1,
  'grpc.max_receive_message_length': 1024,
  'grpc.max_send_message_length': 1024,
  'grpc.max_metadata_size': 16 * 1024
}

/** Statuses that are the server's own answer about the call (a gRPC server replied). */
const ANSWERED: ReadonlySet<number> = new Set([
  3, // INVALID_ARGUMENT
  5, // NOT_FOUND: unknown service (health.proto)
  7, // PERMISSION_DENIED
  9, // FAILED_PRECONDITION
  12, // UNIMPLEMENTED: no health service
  16 // UNAUTHENTICATED
])

/** How far one probe's connection got. */
interface Track {
  phase: Phase
  /** The connection's socket (the TLS socket for grpcs), once there is one. */
  socket?: Socket
  /** The TLS handshake's error, when that is what failed. */
  tlsError?: Error
  /** Set when the probe has answered: a connection completing later is closed at once. */
  over: boolean
}

/** Why a query is not a gRPC health check (the route's 404), or undefined. */
export function rejectGrpcQuery (query: string, queryString: string): string | undefined {
  if (!SERVICE_RE.test(query)) return `not a gRPC service name: ${quoted(query)}`
  if (queryString !== '') return 'gRPC health checks take no query string'
  return undefined
}

/** grpc-js status details without its timestamps and empty notes. */
function cleanDetails (details: string): string {
  return details.replace(/ \(\d{4}-\d\d-\d\dT[0-9:.]+Z\)/g, '').replace(/\.? ?Resolution note: ?$/, '').trim()
}

/** An OpenSSL error's reason (`wrong version number`), else the error's description. */
function tlsReason (err: unknown): string {
  const reason = (err as { reason?: unknown } | undefined)?.reason
  return typeof reason === 'string' && reason !== '' ? reason : describeError(err)
}

async function handshake (socket: Socket, servername: string | undefined, track: Track): Promise<TLSSocket> {
  return await new Promise((resolve, reject) => {
    const secure = tlsConnect({ socket, ALPNProtocols: ['h2'], rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }) })
    track.socket = secure
    secure.on('error', (err: Error) => { track.tlsError ??= err; reject(err) })
    secure.once('secureConnect', () => { resolve(secure) })
  })
}

/** Channel credentials that make the TCP connection's TLS layer (or none) and record the phases. */
function probeCredentials (grpc: typeof Grpc, secure: boolean, servername: string | undefined, track: Track): Grpc.ChannelCredentials {
  type Connector = ReturnType<Grpc.ChannelCredentials['_createSecureConnector']>
  class ProbeCredentials extends grpc.ChannelCredentials {
    _isSecure (): boolean { return secure }
    _equals (other: Grpc.ChannelCredentials): boolean { return other === this }
    _createSecureConnector (): Connector {
      const callCredentials = grpc.CallCredentials.createEmpty()
      return {
        connect: async (socket: Socket) => {
          socket.on('error', () => {}) // grpc-js listens too; nothing may crash the server
          if (track.over) {
            socket.destroy()
            // A sentinel, not a coded error: the probe already has its answer, and grpc-js only
            // learns from this that the connection failed; no message reaches anyone.
            throw new Error('the probe is over')
          }
          track.socket = socket
          if (!secure) {
            track.phase = 'protocol'
            return { socket, secure: false }
          }
          track.phase = 'tls'
          const tls = await handshake(socket, servername, track)
          track.phase = 'protocol'
          return { socket: tls, secure: true }
        },
        waitForReady: async () => {},
        getCallCredentials: () => callCredentials,
        destroy: () => {}
      }
    }
  }
  return new ProbeCredentials()
}

/** A grpc-js target that is never resolved by name: `ipv4:10.0.0.1:50051`, `ipv6:[::1]:50051`. */
function targetUri (address: string, port: number): string {
  return isIP(address) === 6 ? `ipv6:[${address}]:${port}` : `ipv4:${address}:${port}`
}

function verdict (grpc: typeof Grpc, err: Grpc.ServiceError | null, status: number | undefined, service: string, track: Track, timedOut: boolean, started: number): CheckOutcome {
  const took = seconds(performance.now() - started)
  const what = service === '' ? '' : ` for ${service}`
  if (err === null) {
    const name = servingStatusName(status ?? 0)
    return status === SERVING ? up(`status ${name}${what}`) : down(`status ${name}${what}`, 'L7STS')
  }
  if (timedOut || err.code === grpc.status.DEADLINE_EXCEEDED) {
    const where = { connect: 'Connection timed out', tls: 'TLS handshake timed out', protocol: 'gRPC server did not answer within' }[track.phase]
    return down(track.phase === 'protocol' ? `${where} ${took}s` : `${where} after ${took}s`, failureStatus(track.phase, true))
  }
  const code = grpc.status[err.code] ?? String(err.code)
  const details = clip(cleanDetails(err.details ?? ''))
  if (track.phase === 'connect') {
    // grpc-js words a failed connect as `... Last error: connect ECONNREFUSED 127.0.0.1:1 ...`.
    const errno = /\b(E[A-Z]{3,})\b/.exec(details)?.[1]
    return down(`Unhandled exception ${errno === undefined ? details : describeError({ code: errno })}`, failureStatus('connect', false, errno))
  }
  if (track.phase === 'tls') return down(clip(`TLS handshake failed: ${tlsReason(track.tlsError ?? err)}`), 'L6RSP')
  if (err.code === grpc.status.NOT_FOUND) return down(clip(`service ${JSON.stringify(service)} unknown (gRPC ${code}${details === '' ? '' : `: ${details}`})`), 'L7STS')
  if (ANSWERED.has(err.code)) return down(clip(`gRPC ${code}${what}: ${details}`), 'L7STS')
  return down(clip(`Not a gRPC answer: ${code}: ${details}`), 'L7RSP')
}

/** A checker for `grpc` (plaintext HTTP/2) or `grpcs` (over TLS, SNI the target's host name when it has one). */
export function grpcChecker (secure: boolean): Checker {
  async function check (target: CheckTarget, ctx: CheckContext): Promise<CheckOutcome> {
    const rejected = rejectGrpcQuery(target.query, target.queryString)
    if (rejected !== undefined) return down(rejected, 'L7STS', 404)
    const started = performance.now()
    // Loaded on the first gRPC check: hosts that never make one do not pay for grpc-js.
    const grpc = await import('@grpc/grpc-js')
    const track: Track = { phase: 'connect', over: false }
    const servername = isIP(target.host) === 0 ? target.host : undefined
    const client = new grpc.Client(targetUri(target.address, target.port), probeCredentials(grpc, secure, servername, track), CHANNEL_OPTIONS)
    let onAbort: (() => void) | undefined
    try {
      return await new Promise<CheckOutcome>((resolve) => {
        const call = client.makeUnaryRequest(HEALTH_CHECK_METHOD, encodeHealthCheckRequest, decodeHealthCheckResponse, target.query, new grpc.Metadata(),
          // Our signal ends the probe; grpc-js's deadline is only a backstop behind it.
          { deadline: Date.now() + ctx.timeoutMs + 1000 },
          (err, status) => { resolve(verdict(grpc, err, status, target.query, track, ctx.signal.aborted, started)) })
        onAbort = () => {
          call.cancel()
          track.socket?.destroy()
        }
        if (ctx.signal.aborted) onAbort()
        else ctx.signal.addEventListener('abort', onAbort, { once: true })
      })
    } finally {
      if (onAbort !== undefined) ctx.signal.removeEventListener('abort', onAbort)
      track.over = true
      client.close()
      // grpc-js closes the HTTP/2 session gracefully; a peer that never finishes it is cut off.
      track.socket?.setTimeout(1000, () => { track.socket?.destroy() })
    }
  }
  return { check, pathRequired: false, probes: true, rejectsQuery: rejectGrpcQuery }
}

/** The `grpc` protocol (see the file's description). */
export const grpc = grpcChecker(false)
