/**
 * The outbound limit (`max_clients`, docs/configuration.md) and the probe timeout: at most
 * `max_clients` probes run at once, the others wait for a slot.
 *
 * The wait is fair between clients (ours): each client address has its own queue, and a slot
 * that frees goes to the next client in turn, not to the oldest probe. So a client that floods
 * hacheck with checks of distinct URLs queues behind itself: a balancer on another address
 * waits for one slot to free, however long the flooder's queue is.
 *
 * Waiting for a slot and probing are bounded apart, each by `healthcheck_timeout` (or the
 * checker's own bound, e.g. a script's `timeout`), as the reference's HTTP client bounds its
 * queue and then its request: a probe always has its whole timeout, so a failure it reports is
 * the service's. A check that gets no slot in time is not
 * probed at all and says so: 503 `SOCKERR` (HAProxy's status for a check its own side could
 * not run), `Not checked: no outbound slot free...`, counted in `outbound_slot_timeouts` (shown
 * in `/status` and metrics) and never cached. So one client that fills the queue with probes
 * of a silent upstream makes hacheck answer "overloaded", never "your service is down".
 */
import { performance } from 'node:perf_hooks'
import { failureStatus, seconds } from '../checkers/status.js'
import type { Checker, CheckOutcome, CheckTarget } from '../checkers/types.js'
import type { CheckResult } from './result.js'
import type { Config } from '../config/index.js'

/**
 * How long after the timeout fires a checker may take to report its own (more precise) timeout
 * before the answer is given for it. Bounds a checker that ignores its signal.
 */
export const TIMEOUT_GRACE_MS = 250

function errorMessage (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** One probe waiting for a slot. */
interface Waiter {
  start: () => void
  cancelled: boolean
}

/** Withdraws a waiting task (see {@link FairSlots.run}); does nothing once it has started. */
export type Withdraw = () => void

/**
 * `max` slots shared round-robin between clients: each client's waiters are served in order,
 * and clients take turns. O(1) per acquire and release.
 */
export class FairSlots {
  private readonly max: number
  private active = 0
  private waiting = 0
  /** Client → its waiters; Map order is the turn order (a served client moves to the back). */
  private readonly queues = new Map<string, Waiter[]>()

  constructor (max: number) {
    this.max = max
  }

  /**
   * Calls `start` on a slot once one is free and it is `client`'s turn: at once when a slot is
   * free and nobody waits. The task holds the slot until it calls {@link FairSlots.release}.
   *
   * @returns a function that withdraws the task if it has not started (e.g. its wait timed out);
   *   `FairSlots.started` when it started at once.
   */
  run (client: string, start: () => void): Withdraw {
    const waiter: Waiter = { cancelled: false, start: () => { this.active++; start() } }
    if (this.active < this.max && this.waiting === 0) {
      waiter.start()
      return FairSlots.started
    }
    const queue = this.queues.get(client)
    if (queue === undefined) this.queues.set(client, [waiter])
    else queue.push(waiter)
    this.waiting++
    return () => {
      if (waiter.cancelled) return
      waiter.cancelled = true
      this.waiting--
    }
  }

  /** The withdraw function {@link FairSlots.run} returns for a task that started at once. */
  static readonly started: Withdraw = () => {}

  /** Frees the slot of a task that started; the next waiter (if any) starts. */
  release (): void {
    this.active--
    this.next()
  }

  private next (): void {
    while (this.active < this.max) {
      const first = this.queues.entries().next()
      if (first.done === true) return
      const [client, queue] = first.value
      const waiter = queue.shift()
      this.queues.delete(client)
      if (queue.length > 0) this.queues.set(client, queue) // to the back: the next client's turn
      if (waiter === undefined || waiter.cancelled) continue
      this.waiting--
      waiter.start()
    }
  }

  /** Tasks waiting for a slot. */
  get pendingCount (): number {
    return this.waiting
  }

  /** Tasks running. */
  get activeCount (): number {
    return this.active
  }
}

/** The `max_clients` slots of one server, and the probes run on them. */
export class OutboundLimit {
  private readonly config: Config
  private readonly limit: FairSlots
  private readonly timeoutMs: number
  private readonly clock: { now: () => number }
  /** Answers of checks that never got a slot. */
  private readonly unprobed = new WeakSet<CheckResult>()
  private timeouts = 0

  /**
   * @param perf - clock, milliseconds (`performance`-like), for the waits and probe durations
   *   reported; tests pass one that follows their mocked timers.
   */
  constructor (config: Config, perf: { now: () => number } = performance) {
    this.config = config
    this.limit = new FairSlots(config.max_clients)
    this.timeoutMs = config.healthcheck_timeout * 1000
    this.clock = perf
  }

  /**
   * Runs one checker on a slot, within `healthcheck_timeout` from the moment it got the slot.
   * Never rejects. The slot is held until the checker settles, even when its answer was given
   * up on (a checker that ignores its signal still counts against `max_clients`).
   *
   * @param client - who asked (a client address); slots go round-robin between clients.
   * @returns the result; `durationMs` is the probe's own time (or the wait, when not probed).
   */
  async probe (checker: Checker, target: CheckTarget, client = ''): Promise<CheckResult> {
    const timeoutMs = checker.timeoutMs?.(target, this.config) ?? this.timeoutMs
    const asked = this.clock.now()
    return await new Promise<CheckResult>((resolve) => {
      const wait: { timer?: NodeJS.Timeout } = {}
      const withdraw = this.limit.run(client, () => {
        clearTimeout(wait.timer)
        this.runOnSlot(checker, target, timeoutMs, resolve)
      })
      if (withdraw === FairSlots.started) return
      wait.timer = setTimeout(() => {
        withdraw()
        this.timeouts++
        const waited = this.clock.now() - asked
        const result: CheckResult = { ...this.noSlot(waited), durationMs: waited }
        this.unprobed.add(result)
        resolve(result)
      }, timeoutMs)
    })
  }

  /**
   * Runs the checker on the slot it holds: one timer aborts its signal after `timeoutMs`, and
   * answers for it {@link TIMEOUT_GRACE_MS} later if it has not answered by then. The slot is
   * released when the checker settles. A probe costs one controller and one timer, both
   * cleared when it ends (no timer outlives a probe).
   */
  private runOnSlot (checker: Checker, target: CheckTarget, timeoutMs: number, resolve: (result: CheckResult) => void): void {
    const begun = this.clock.now()
    const controller = new AbortController()
    let answered = false
    let grace: NodeJS.Timeout | undefined
    const answer = (outcome: CheckOutcome): void => {
      if (answered) return
      answered = true
      clearTimeout(timer)
      clearTimeout(grace)
      resolve({ ...outcome, durationMs: this.clock.now() - begun })
    }
    const timer = setTimeout(() => {
      controller.abort()
      grace = setTimeout(() => {
        answer({ code: 503, message: `Timed out after ${seconds(this.clock.now() - begun)}s`, checkStatus: failureStatus('protocol', true) })
      }, TIMEOUT_GRACE_MS)
    }, timeoutMs)
    let work: Promise<CheckOutcome>
    try {
      work = Promise.resolve(checker.check(target, { timeoutMs, signal: controller.signal, config: this.config }))
    } catch (err) {
      work = Promise.reject(err)
    }
    work.then(answer, (err: unknown) => {
      answer({ code: 503, message: `Unhandled exception ${errorMessage(err)}`, checkStatus: 'SOCKERR' })
    }).finally(() => {
      clearTimeout(timer) // the checker is done: its signal needs no abort any more
      this.limit.release() // the slot is held until the checker is done, answered or not
    }).catch(() => {})
  }

  /** False for the answer of a check that got no slot: it must not be cached nor count as a probe. */
  probed (result: CheckResult): boolean {
    return !this.unprobed.has(result)
  }

  /** Probes waiting for a slot. */
  get waiting (): number {
    return this.limit.pendingCount
  }

  /** Probes running. */
  get inFlight (): number {
    return this.limit.activeCount
  }

  /** Checks answered without a probe because no slot came free in time, since start. */
  get slotTimeouts (): number {
    return this.timeouts
  }

  private noSlot (waitedMs: number): CheckOutcome {
    return {
      code: 503,
      message: `Not checked: no outbound slot free within ${seconds(waitedMs)}s (max_clients ${this.config.max_clients} probes in flight, ` +
        `${this.limit.pendingCount} waiting); hacheck is overloaded, this says nothing about the service`,
      checkStatus: 'SOCKERR'
    }
  }
}
