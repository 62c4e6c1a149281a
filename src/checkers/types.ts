/**
 * The shapes every checker shares. A checker asks one real service whether it works and
 * reports the answer as a {@link CheckOutcome}; "down" is a result, never an exception.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Config } from '../config/index.js'
import type { CheckStatus } from './status.js'

/** What to check, resolved from the URL and the request headers (see `target.ts`). */
export interface CheckTarget {
  /** The service name from the URL, `[.a-zA-Z0-9_-]+`. */
  readonly service: string
  /**
   * Host the check is for, as named (127.0.0.1 unless a header named another): spool keys,
   * cache keys and messages use it.
   */
  readonly host: string
  /**
   * The IP address to connect to: `host` as the check guard resolved and approved it (equal to
   * `host` when that is an address). Checkers connect here, never to `host`, so a second name
   * resolution cannot switch the target (DNS rebinding).
   */
  readonly address: string
  /** Port to probe, 1-65535 (0 only for the spool protocol: the whole service). */
  readonly port: number
  /** The path after `/<protocol>/<service>/<port>/`, undecoded, without a leading slash. */
  readonly query: string
  /** The original request's query string, without `?`; empty when none. */
  readonly queryString: string
  /** The incoming request's headers (lower-case names), for checkers that forward some. */
  readonly headers: Readonly<IncomingHttpHeaders>
}

/** Everything a checker needs besides the target; built per probe by the health service. */
export interface CheckContext {
  /** Bound on the whole probe in milliseconds (`healthcheck_timeout` × 1000). */
  readonly timeoutMs: number
  /** Aborted when the probe's time is up; checkers pass it to their I/O. */
  readonly signal: AbortSignal
  readonly config: Config
}

/** What a checker reports. */
export interface CheckOutcome {
  /**
   * HTTP-style code: 200 passes; anything above 200 ends the request with that status (503
   * when it is not a standard HTTP status), as hacheck's handlers do.
   */
  readonly code: number
  /** Body of the answer (ignored for 204). */
  readonly message: string
  /** The HAProxy check status this outcome corresponds to (`L4CON`, `L7STS`, ...). */
  readonly checkStatus: CheckStatus
}

/** One protocol's probe. Must resolve (never reject) and must honour `ctx.signal`. */
export type CheckFn = (target: CheckTarget, ctx: CheckContext) => Promise<CheckOutcome>

/** A protocol as the registry knows it. */
export interface Checker {
  /** The probe. */
  readonly check: CheckFn
  /**
   * Whether the `/` after the port is required in the URL (`http`, `https`: the query is part
   * of the probe). Others also answer `/<protocol>/<service>/<port>` without it.
   */
  readonly pathRequired: boolean
  /**
   * Whether the checker contacts the target. Probing checkers need a port 1-65535, go through
   * the TTL cache and the outbound limit; `spool` does not probe and is read every time.
   */
  readonly probes: boolean
  /**
   * (ours) The service name names what the probe runs on this machine (`script`: a configured
   * command) and nothing is contacted over the network: port 0 is accepted (the port is handed
   * to the probe), the check-target guard does not apply, and the service name joins the cache
   * key. Absent means false.
   */
  readonly namedByService?: boolean
  /**
   * (ours) The probe's time bound in milliseconds when it is not `healthcheck_timeout`
   * (`script`: the script's own `timeout`). Absent means `healthcheck_timeout`.
   */
  readonly timeoutMs?: (target: CheckTarget, config: Config) => number
  /**
   * (ours) For protocols whose query means something (a role such as `primary`, a gRPC
   * service name): why this query and query string are not a check of this protocol, or
   * `undefined` when they are. The route answers 404 with the reason, and `agent_checks`
   * refuses such an entry at start-up. Absent: the query is not checked (the reference's
   * protocols ignore it).
   */
  readonly rejectsQuery?: (query: string, queryString: string) => string | undefined
  /**
   * The request headers the probe forwards to the target, by lower-case name, as it sends them
   * (`http_headers_to_copy`, `service_name_header`). They can change the answer, so they join
   * the cache key: one client's headers must never change what other clients are told.
   * Absent: the checker forwards none.
   */
  readonly forwardedHeaders?: (target: CheckTarget, config: Config) => Readonly<Record<string, string>>
}

/** A passing outcome (code 200). */
export function up (message: string, checkStatus: CheckStatus = 'L7OK'): CheckOutcome {
  return { code: 200, message, checkStatus }
}

/** A failing outcome with the given code (default 503). */
export function down (message: string, checkStatus: CheckStatus, code = 503): CheckOutcome {
  return { code, message, checkStatus }
}
