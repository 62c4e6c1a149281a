/**
 * The outbound limit (`max_clients`, CONTRACT section 2) and the probe timeout: at most
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
import type { Checker, CheckOutcome, CheckResult, CheckTarget } from '../checkers/types.js'
import type { Config } from '../config/index.js'

/**
 * How long after the timeout fires a checker may take to report its own (more precise) timeout
 * before the answer is given for it. Bounds a checker that ignores its signal.
 */
export const TIMEOUT_GRACE_MS = 250

function errorMessage (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/**
 * Resolves with `work`, or with `fallback()` when `signal` has fired and `work` has not settled
 * within {@link TIMEOUT_GRACE_MS} after it.
 */
async function settleWithin<T> (work: Promise<T>, signal: AbortSignal, fallback: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const deadline = new Promise<T>((resolve) => {
    onAbort = () => { timer = setTimeout(() => { resolve(fallback()) }, TIMEOUT_GRACE_MS) }
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/** One probe waiting for a slot. */
interface Waiter {
  start: () => void
  cancelled: boolean
}

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
   * Runs `task` on a slot once one is free and it is `client`'s turn.
   *
   * @returns a function that withdraws the task if it has not started (e.g. its wait timed out).
   */
  run (client: string, task: () => Promise<void>): () => void {
    const waiter: Waiter = {
      cancelled: false,
      start: () => {
        this.active++
        task().catch(() => {}).finally(() => { this.active--; this.next() })
      }
    }
    if (this.active < this.max && this.waiting === 0) {
      waiter.start()
      return () => {}
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
  /** Answers of checks that never got a slot. */
  private readonly unprobed = new WeakSet<CheckResult>()
  private timeouts = 0

  constructor (config: Config) {
    this.config = config
    this.limit = new FairSlots(config.max_clients)
    this.timeoutMs = config.healthcheck_timeout * 1000
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
    const asked = performance.now()
    let started: number | undefined
    let outcome: CheckOutcome
    try {
      outcome = await new Promise<CheckOutcome>((resolve, reject) => {
        const slotTimer = setTimeout(() => {
          withdraw()
          this.timeouts++
          resolve(this.noSlot(performance.now() - asked))
        }, timeoutMs)
        const withdraw = this.limit.run(client, async () => {
          clearTimeout(slotTimer)
          const begun = performance.now()
          started = begun
          const signal = AbortSignal.timeout(timeoutMs)
          // An async wrapper turns a checker that throws at once into a rejection.
          const work = (async () => await checker.check(target, { timeoutMs, signal, config: this.config }))()
          const timedOut = (): CheckOutcome => ({
            code: 503, message: `Timed out after ${seconds(performance.now() - begun)}s`, checkStatus: failureStatus('protocol', true)
          })
          settleWithin(work, signal, timedOut).then(resolve, reject)
          await work // the slot is held until the checker is done
        })
      })
    } catch (err) {
      outcome = { code: 503, message: `Unhandled exception ${errorMessage(err)}`, checkStatus: 'SOCKERR' }
    }
    const result: CheckResult = { ...outcome, durationMs: performance.now() - (started ?? asked) }
    if (started === undefined && outcome.checkStatus === 'SOCKERR') this.unprobed.add(result)
    return result
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
