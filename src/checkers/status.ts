/**
 * HAProxy check statuses and the error wording shared by the checkers.
 *
 * A probe fails in one of three phases, and HAProxy names the failure after the phase
 * (HAProxy configuration manual, "show stat" `check_status`; src/check.c chk_report_conn_err):
 * before the TCP connection is up (layer 4), during the TLS handshake (layer 6), or while
 * talking the service's protocol (layer 7).
 */
import { constants as os } from 'node:os'
import { getSystemErrorMap } from 'node:util'

/** HAProxy `check_status` values hacheck reports. */
export type CheckStatus =
  | 'L4OK' // layer 4 check passed: TCP connect, no upper layer tested
  | 'L4TOUT' // layer 1-4 timeout
  | 'L4CON' // layer 1-4 connection problem (refused, reset, unreachable)
  | 'L6OK' // layer 6 (TLS) check passed
  | 'L6TOUT' // layer 6 (TLS) timeout
  | 'L6RSP' // layer 6 invalid response: TLS handshake error
  | 'L7OK' // layer 7 check passed
  | 'L7OKC' // layer 7 check conditionally passed (e.g. 404 with disable-on-404)
  | 'L7TOUT' // layer 7 timeout
  | 'L7RSP' // layer 7 invalid response: protocol error
  | 'L7STS' // layer 7 response error, e.g. HTTP 5xx
  | 'SOCKERR' // socket error on our side (no descriptor, no local address)
  | 'PROCOK' // external check (script) passed: exit 0
  | 'PROCERR' // external check (script) failed: non-zero exit, killed, or could not run
  | 'PROCTOUT' // external check (script) timed out

/** The statuses HAProxy counts as a passed check (`L7OKC`: conditionally, e.g. a 404 with disable-on-404). */
const PASSING: ReadonlySet<CheckStatus> = new Set<CheckStatus>(['L4OK', 'L6OK', 'L7OK', 'L7OKC', 'PROCOK'])

/**
 * True for a status HAProxy counts as a passed check: `L4OK`, `L6OK`, `L7OK`, `L7OKC`, `PROCOK`.
 * (HAProxy: `HCHK_STATUS_*` with `CHK_RES_PASSED`/`CHK_RES_CONDPASS` in src/check.c.)
 */
export function isPassingStatus (status: CheckStatus): boolean {
  return PASSING.has(status)
}

/** Where a probe was when it failed. */
export type Phase = 'connect' | 'tls' | 'protocol'

const TIMEOUT: Record<Phase, CheckStatus> = { connect: 'L4TOUT', tls: 'L6TOUT', protocol: 'L7TOUT' }
const ERROR: Record<Phase, CheckStatus> = { connect: 'L4CON', tls: 'L6RSP', protocol: 'L7RSP' }
/** Errors that are about our own socket, not the peer. */
const LOCAL_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL', 'EADDRINUSE'])

/**
 * The check status of a failed probe.
 *
 * @param phase - how far the probe got.
 * @param timedOut - whether it failed by running out of time.
 * @param code - the Node error code (`ECONNREFUSED`, ...), when there is one.
 */
export function failureStatus (phase: Phase, timedOut: boolean, code?: string): CheckStatus {
  if (timedOut) return TIMEOUT[phase]
  if (code !== undefined && LOCAL_ERRORS.has(code)) return 'SOCKERR'
  return ERROR[phase]
}

/** Seconds with two decimals, as the reference prints durations (`0.00`). */
export function seconds (ms: number): string {
  return (ms / 1000).toFixed(2)
}

/** Milliseconds at 0.1 ms resolution, as headers, `/recent` and logs report probe durations. */
export function tenthsOfMs (ms: number): number {
  return Math.round(ms * 10) / 10
}

/**
 * Python's rendering of an OS error, `[Errno 111] Connection refused`, for errors with a
 * system code; otherwise the error's own message.
 */
export function describeError (err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined
  const code = e?.code
  const errno = code === undefined ? undefined : (os.errno as Record<string, number | undefined>)[code]
  if (errno !== undefined) {
    const text = getSystemErrorMap().get(-errno)?.[1]
    if (text !== undefined) return `[Errno ${errno}] ${text.charAt(0).toUpperCase()}${text.slice(1)}`
  }
  return e?.message ?? String(err)
}

/** The Node error code of an error (`ECONNREFUSED`, ...), walking `cause` chains. */
export function errorCode (err: unknown): string | undefined {
  let e = err as { code?: unknown, cause?: unknown } | undefined
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code
    e = e.cause as typeof e
  }
  return undefined
}

/**
 * A client-supplied value quoted for a message (404 bodies are `text/html`): at most 64
 * characters, anything outside a URL's plain characters shown as `?`, so no markup is echoed.
 */
export function quoted (text: string): string {
  return JSON.stringify(text.slice(0, 64).replace(/[^A-Za-z0-9._~%/:=+-]/g, '?'))
}

/** Longest server text (an error message, status details) passed into an answer. */
export const MAX_SERVER_TEXT = 300

/** `text` cut to {@link MAX_SERVER_TEXT} characters (`...` marks a cut). */
export function clip (text: string): string {
  return text.length > MAX_SERVER_TEXT ? `${text.slice(0, MAX_SERVER_TEXT)}...` : text
}
