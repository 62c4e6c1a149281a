/**
 * (ours) Paces how often commands are started. Node starts a child process synchronously, on
 * the event loop (fork and exec: milliseconds, more as the process grows), so a client naming
 * thousands of distinct script checks (`/script/<name>/<port>/` with a new port each time, every
 * one a cache miss) could spend the loop on starting commands while every other check waits
 * (docs/security.md "Threat model"). Starts are granted from a token bucket (`perSecond` a
 * second, bursts of as many); a check beyond them waits in a bounded queue, in arrival order,
 * until a start is granted or its own timeout ends the wait. Past the queue the start is
 * refused at once, and the check answers down: a refused start never reports up.
 *
 * State: the tokens left, when they were last counted, the waiting starts and the timer that
 * grants the next one.
 */

/** Options for {@link StartPacer}. */
export interface StartPacerOptions {
  /** Starts granted a second, and the largest burst; > 0. */
  perSecond: number
  /** Most starts waiting for a grant at once; beyond that a start is refused. */
  maxWaiting: number
  /** Clock, milliseconds; `performance.now` by default (tests pass their own). */
  nowMs?: () => number
}

/** Why a start was not granted. */
export type StartRefusal = 'queue full' | 'aborted'

interface Waiter {
  grant: (result: true | StartRefusal) => void
}

/** A token bucket of command starts with a bounded wait queue (see the file's description). */
export class StartPacer {
  private tokens: number
  private countedAt: number
  private readonly waiting: Waiter[] = []
  private timer: NodeJS.Timeout | undefined
  private readonly nowMs: () => number

  constructor (private readonly opts: StartPacerOptions) {
    this.nowMs = opts.nowMs ?? (() => performance.now())
    this.tokens = opts.perSecond
    this.countedAt = this.nowMs()
  }

  /** Starts waiting now. */
  get queued (): number {
    return this.waiting.length
  }

  /**
   * Waits for a start. Resolves `true` when the command may start, `'queue full'` at once when
   * {@link StartPacerOptions.maxWaiting} starts already wait, `'aborted'` when `signal` ends the
   * wait first. Never rejects.
   */
  async take (signal: AbortSignal): Promise<true | StartRefusal> {
    if (signal.aborted) return 'aborted'
    this.refill()
    if (this.waiting.length === 0 && this.tokens >= 1) {
      this.tokens -= 1
      return true
    }
    if (this.waiting.length >= this.opts.maxWaiting) return 'queue full'
    return await new Promise((resolve) => {
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter)
        if (i !== -1) this.waiting.splice(i, 1)
        resolve('aborted')
      }
      const waiter: Waiter = {
        grant: (result) => {
          signal.removeEventListener('abort', onAbort)
          resolve(result)
        }
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(waiter)
      this.schedule()
    })
  }

  /** Refuses every waiting start (`'aborted'`) and clears the timer. */
  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    for (const waiter of this.waiting.splice(0)) waiter.grant('aborted')
  }

  private refill (): void {
    const now = this.nowMs()
    this.tokens = Math.min(this.opts.perSecond, this.tokens + (now - this.countedAt) * this.opts.perSecond / 1000)
    this.countedAt = now
  }

  /** Arms the timer for the next token while starts wait. */
  private schedule (): void {
    if (this.timer !== undefined || this.waiting.length === 0) return
    const ms = Math.max(1, Math.ceil((1 - this.tokens) * 1000 / this.opts.perSecond))
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.refill()
      while (this.tokens >= 1 && this.waiting.length > 0) {
        this.tokens -= 1
        this.waiting.shift()?.grant(true)
      }
      this.schedule()
    }, ms)
    this.timer.unref()
  }
}
