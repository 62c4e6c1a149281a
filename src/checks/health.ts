/**
 * One check, start to end: spool gate → cache → outbound limit → protocol checker, with the
 * timeout and fail-closed rules in one place. Routes and the agent server call
 * {@link HealthService.check} and know no protocol by name.
 *
 * Spool states (ours): what a `down`, `maint` or `drain` entry answers is decided in
 * `result.ts` (a drain probes, and a broken host that drains still goes down: fail closed).
 *
 * Folder checks/ (this is its main file): one check from request to result: this health
 * service, the result cache (`cache.ts`), target resolution (`target.ts`), the check-target
 * guard (`check-guard.ts`), the state-change log (`transition-log.ts`) and the per-service
 * request log behind `/recent` and `/status/count` (`service-log.ts`). May import `checkers/`,
 * `spool/`, `ops/`, `config/` and the top-level leaves; never `http/`, `agent/` or Fastify.
 */
import { checkers as defaultCheckers, type CheckerRegistry, type Protocol } from '../checkers/index.js'
import type { Checker, CheckContext, CheckTarget } from '../checkers/types.js'
import type { Config } from '../config/index.js'
import type { Spool, SpoolState } from '../spool/spool.js'
import { ENTRY_OVERHEAD_BYTES, ResultCache, cacheKey, stringBytes, type CacheStats } from './cache.js'
import { OutboundLimit } from './outbound.js'
import { answerAfterProbe, answerWithoutProbe, type CheckResult } from './result.js'
import type { TransitionLog } from './transition-log.js'

/** A check to run. */
export interface CheckRequest {
  protocol: Protocol
  target: CheckTarget
  /** `Pragma: no-cache`: probe even when a fresh result is cached (this request only). */
  noCache: boolean
  /**
   * (ours) Who asked: the client address (HTTP) or the agent's peer. Outbound slots are shared
   * fairly between clients (see `outbound.ts`); absent: one shared queue.
   */
  client?: string | undefined
}

/** Counters shown in `/status` (docs/http-api.md "Monitoring routes"). */
export interface HealthStats {
  cache: CacheStats
  /** Probes waiting for a `max_clients` slot. */
  outbound_request_queue_size: number
  /** (ours) Probes running now; not shown in `/status`, used by metrics. */
  outbound_in_flight: number
  /**
   * (ours) Checks answered 503 `SOCKERR` because no `max_clients` slot came free within
   * `healthcheck_timeout`: hacheck's own overload, never blamed on the service.
   */
  outbound_slot_timeouts: number
}

/**
 * Called after every probe that actually ran (never for cached answers, probes joined while in
 * flight, or spool answers), e.g. to feed the probe duration histogram. `target` is the check
 * that ran the probe (one probe may answer several services through the cache).
 */
export type ProbeListener = (protocol: string, result: CheckResult, target: CheckTarget) => void

/**
 * (ours) Called synchronously with every answer a check gives (spool answers and cached ones
 * included), after it is decided; it must not block or throw (the fleet's answer book notes it
 * in a bounded map, docs/fleet.md "Fleet status").
 */
export type AnswerListener = (service: string, result: CheckResult) => void

/** What the health service is built from. */
export interface HealthDeps {
  config: Config
  spool: Spool
  /** The registry; tests may pass their own. */
  checkers?: CheckerRegistry
  /** Clock for the cache TTL and the probes' waits and durations, milliseconds; injected by tests. */
  perf?: { now: () => number }
  /** (ours) Logs results that flip between passing and failing; none by default. */
  transitions?: TransitionLog | undefined
}

function errorMessage (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** Runs checks; one instance per server, shared by all its listening ports. */
export class HealthService {
  private readonly config: Config
  private readonly spool: Spool
  private readonly checkers: CheckerRegistry
  private readonly cache: ResultCache<CheckResult>
  private readonly outbound: OutboundLimit
  /** Handed to checkers that contact nothing: they have no I/O to abort, so no timer. */
  private readonly localContext: CheckContext
  private readonly probeListeners: ProbeListener[] = []
  private readonly answerListeners: AnswerListener[] = []
  private readonly transitions: TransitionLog | undefined

  constructor (deps: HealthDeps) {
    this.config = deps.config
    this.spool = deps.spool
    this.transitions = deps.transitions
    this.checkers = deps.checkers ?? defaultCheckers
    this.cache = new ResultCache<CheckResult>({
      ttlSeconds: deps.config.cache_time,
      maxEntries: deps.config.cache_max_entries,
      maxBytes: deps.config.cache_max_bytes,
      // The message is the body (up to 64 KiB); a spool entry's reason is small.
      sizeOf: (result) => stringBytes(result.message) + (result.spool === undefined ? 0 : ENTRY_OVERHEAD_BYTES + stringBytes(result.spool.reason)),
      shouldStore: (result) => this.outbound.probed(result),
      perf: deps.perf
    })
    this.outbound = new OutboundLimit(deps.config, deps.perf)
    this.localContext = { timeoutMs: deps.config.healthcheck_timeout * 1000, signal: new AbortController().signal, config: deps.config }
  }

  /**
   * Runs the spool gate, then (for probing protocols, through the cache) the protocol's
   * checker. Never rejects: a spool that cannot be read, a checker that throws or overruns
   * `healthcheck_timeout` all give a 503 (fail closed). A `drain` spool file turns a passing
   * result into 404 `Service <svc> in drain state...` with status `L7OKC`.
   */
  async check (req: CheckRequest): Promise<CheckResult> {
    const { target } = req
    // The spool is read synchronously (see spool.ts): no promise for the common spool answer.
    let gate: SpoolState
    try {
      gate = this.spool.isUp(target.service, target.port, target.host)
    } catch (err) {
      return this.observed(req, { code: 503, message: `spool lookup failed: ${errorMessage(err)}`, checkStatus: 'L7STS', durationMs: 0 })
    }
    const entry = gate.up ? undefined : gate.entry
    const answered = answerWithoutProbe(entry)
    if (answered !== undefined) return this.observed(req, answered)
    return this.observed(req, answerAfterProbe(entry, await this.run(req)))
  }

  /**
   * (ours) The protocol's checker through the cache and the outbound limit, without the spool
   * gate: for callers that ran the gate themselves (a check group runs it once for the whole
   * group, then each member here). Never rejects, as {@link HealthService.check}.
   */
  async checkWithoutSpool (req: CheckRequest): Promise<CheckResult> {
    return this.observed(req, await this.run(req))
  }

  /** The checker part of a check: spool-only checkers directly, probing ones through the cache. */
  private async run (req: CheckRequest): Promise<CheckResult> {
    const { target } = req
    const checker = this.checkers[req.protocol]
    if (checker === undefined) {
      return { code: 404, message: `unknown protocol ${req.protocol}`, checkStatus: 'L7STS', durationMs: 0 }
    }
    if (!checker.probes) {
      // A checker that contacts nothing (spool): no timer, no outbound slot; it has no I/O that
      // could overrun the timeout, and a probe's signal and race would cost more than the check.
      try {
        const { code, message, checkStatus } = await checker.check(target, this.localContext)
        return { code, message, checkStatus, durationMs: 0 }
      } catch (err) {
        return { code: 503, message: `Unhandled exception ${errorMessage(err)}`, checkStatus: 'SOCKERR', durationMs: 0 }
      }
    }
    return await this.cache.get(this.keyOf(req, checker), async () => {
      const probed = await this.outbound.probe(checker, target, req.client)
      if (this.outbound.probed(probed)) for (const listener of this.probeListeners) listener(req.protocol, probed, target)
      return probed
    }, { noCache: req.noCache })
  }

  /** Hands a result to the transition log and returns it. */
  private observed (req: CheckRequest, result: CheckResult): CheckResult {
    this.transitions?.observe(req.protocol, req.target, result)
    for (const listener of this.answerListeners) listener(req.target.service, result)
    return result
  }

  /**
   * The cache key of a probing check (see cache.ts). The service joins it when probes differ by
   * service: with `service_name_header`, or for a checker the service names (`script`).
   * Every input of the probe joins it, the headers it forwards included.
   */
  private keyOf (req: CheckRequest, checker: Checker): string {
    const { target } = req
    return cacheKey({
      protocol: req.protocol,
      host: target.host,
      port: target.port,
      query: target.query,
      queryString: target.queryString,
      service: this.config.service_name_header === null && checker.namedByService !== true ? undefined : target.service,
      headers: checker.forwardedHeaders?.(target, this.config)
    })
  }

  /** (ours) What the result cache holds now: entries, and bytes as counted against `cache_max_bytes`. */
  cacheUsage (): { entries: number, bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.bytes }
  }

  /** Registers a {@link ProbeListener}. */
  onProbe (listener: ProbeListener): void {
    this.probeListeners.push(listener)
  }

  /** (ours) Registers an {@link AnswerListener}. */
  onAnswer (listener: AnswerListener): void {
    this.answerListeners.push(listener)
  }

  /** Counters for `/status` and metrics. */
  stats (): HealthStats {
    return {
      cache: this.cache.stats(),
      outbound_request_queue_size: this.outbound.waiting,
      outbound_in_flight: this.outbound.inFlight,
      outbound_slot_timeouts: this.outbound.slotTimeouts
    }
  }
}
