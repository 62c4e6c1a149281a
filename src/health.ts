/**
 * One check, start to end: spool gate → protocol checker, with the timeout and fail-closed
 * rules in one place. Routes call {@link HealthService.check} and know no protocol by name.
 */
import { performance } from 'node:perf_hooks'
import { checkers as defaultCheckers, type Protocol } from './checkers/index.js'
import type { Checker, CheckOutcome, CheckResult, CheckTarget } from './checkers/types.js'
import type { Config } from './config.js'
import { describeDown, type Spool } from './spool.js'

/** A check to run. */
export interface CheckRequest {
  protocol: Protocol
  target: CheckTarget
  /** `Pragma: no-cache`: probe even when a fresh result is cached (this request only). */
  noCache: boolean
}

/** Counters shown in `/status` (CONTRACT section 4). */
export interface HealthStats {
  cache: { gets: number, hits: number, misses: number, sets: number, expirations: number }
  /** Probes waiting for a `max_clients` slot. */
  outbound_request_queue_size: number
  /** (ours) Probes running now; not shown in `/status`, used by metrics. */
  outbound_in_flight: number
}

/** What the health service is built from. */
export interface HealthDeps {
  config: Config
  spool: Spool
  /** The registry; tests may pass their own. */
  checkers?: Readonly<Record<string, Checker>>
}

function errorMessage (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** Runs checks; one instance per server, shared by all its listening ports. */
export class HealthService {
  private readonly config: Config
  private readonly spool: Spool
  private readonly checkers: Readonly<Record<string, Checker>>

  constructor (deps: HealthDeps) {
    this.config = deps.config
    this.spool = deps.spool
    this.checkers = deps.checkers ?? defaultCheckers
  }

  /**
   * Runs the spool gate, then the protocol's checker. Never rejects: a spool that cannot be
   * read, a checker that throws or overruns `healthcheck_timeout` all give a 503 (fail closed).
   */
  async check (req: CheckRequest): Promise<CheckResult> {
    const { target } = req
    try {
      const state = await this.spool.isUp(target.service, target.port, target.host)
      if (!state.up) return { code: 503, message: describeDown(state.entry), durationMs: 0 }
    } catch (err) {
      return { code: 503, message: `spool lookup failed: ${errorMessage(err)}`, durationMs: 0 }
    }
    const checker = this.checkers[req.protocol]
    if (checker === undefined) return { code: 404, message: `unknown protocol ${req.protocol}`, durationMs: 0 }
    return await this.probe(checker, target)
  }

  /** Counters for `/status`. */
  stats (): HealthStats {
    return {
      cache: { gets: 0, hits: 0, misses: 0, sets: 0, expirations: 0 },
      outbound_request_queue_size: 0,
      outbound_in_flight: 0
    }
  }

  private async probe (checker: Checker, target: CheckTarget): Promise<CheckResult> {
    const timeoutMs = this.config.healthcheck_timeout * 1000
    const started = performance.now()
    let outcome: CheckOutcome
    try {
      outcome = await checker.check(target, { timeoutMs, signal: AbortSignal.timeout(timeoutMs), config: this.config })
    } catch (err) {
      outcome = { code: 503, message: `Unhandled exception ${errorMessage(err)}` }
    }
    return { ...outcome, durationMs: performance.now() - started }
  }
}
