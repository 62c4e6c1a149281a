/**
 * (ours) Health logging as HAProxy does it: one info line when the result for a (protocol,
 * service, target host:port) flips between passing and failing, none for repeats, so the log
 * stays quiet in steady state and each line marks an event.
 *
 * "Passing" is HAProxy's: `L4OK`, `L6OK`, `L7OK`, `L7OKC` (a drain answer passes, as
 * `disable-on-404` does). A target seen for the first time is assumed passing, as HAProxy
 * assumes a new server up: its first failure is logged, its first success is not.
 *
 * Lines pass a {@link LogLimiter} (category `state-change`, key the target): a client inventing
 * failing services, or a target flapping on every check, cannot fill a disk; the limiter writes
 * `<n> similar lines suppressed` summaries instead. State is tracked whether a line is written
 * or not.
 *
 * State is one bounded map per instance (least recently seen targets forgotten first), built at
 * start-up and passed to the health service; no module-level state. (ours) The last
 * {@link RECENT_TRANSITIONS} flips are also kept in a ring, newest first from
 * {@link TransitionLog.recent}, for the status page.
 */
import { LRUCache } from 'lru-cache'
import { isPassingStatus, tenthsOfMs, type CheckStatus } from '../checkers/status.js'
import type { CheckTarget } from '../checkers/types.js'
import type { CheckResult } from './result.js'
import type { LogLimiter } from '../ops/log-limit.js'

/** The one logger method used: pino's `info(obj, msg)`. */
export interface TransitionLogger {
  info: (obj: object, msg: string) => void
}

/** Options for {@link TransitionLog}. */
export interface TransitionLogOptions {
  /** Where lines go; none (tests, embedding) still tracks state. */
  logger?: TransitionLogger | undefined
  /** Most targets remembered; default 10000. */
  maxTargets?: number
  /** Rate limit for the lines (category {@link STATE_CHANGE_CATEGORY}); none: every flip is written. */
  limiter?: Pick<LogLimiter, 'allow'> | undefined
  /** Clock in unix seconds, for {@link RecentTransition.ts}. */
  nowSeconds?: () => number
}

/** The {@link LogLimiter} category of state-change lines. */
export const STATE_CHANGE_CATEGORY = 'state-change'

/** The fields of one logged flip (the pino object of the line). */
export interface Transition {
  protocol: string
  service: string
  /** `host:port` (`[v6]:port` for IPv6). */
  target: string
  /** `passing` or `failing`: the new side. */
  result: 'passing' | 'failing'
  /** The previous check status; null for a target not seen before. */
  from: CheckStatus | null
  to: CheckStatus
  code: number
  duration_ms: number
  /** The answer's message, one line, at most {@link MAX_MESSAGE} characters. */
  message: string
}

/** Longest message copied into a log line. */
export const MAX_MESSAGE = 200

/** How many flips {@link TransitionLog.recent} keeps. */
export const RECENT_TRANSITIONS = 100

/** A flip as the ring keeps it: the logged fields plus when it happened. */
export interface RecentTransition extends Transition {
  /** Unix seconds (float). */
  ts: number
}

function oneLine (text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim()
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE)}...` : flat
}

function hostPort (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Remembers the last status per target and logs flips. One per server. */
export class TransitionLog {
  private readonly last: LRUCache<string, CheckStatus>
  private readonly logger: TransitionLogger | undefined
  private readonly limiter: Pick<LogLimiter, 'allow'> | undefined
  private readonly nowSeconds: () => number
  /** The last flips, oldest overwritten first; `ringNext` is where the next one goes. */
  private readonly ring: RecentTransition[] = []
  private ringNext = 0

  constructor (opts: TransitionLogOptions = {}) {
    this.logger = opts.logger
    this.limiter = opts.limiter
    this.last = new LRUCache({ max: opts.maxTargets ?? 10000 })
    this.nowSeconds = opts.nowSeconds ?? (() => Date.now() / 1000)
  }

  /**
   * Records one answered check.
   *
   * @returns the flip that was logged, or null when the result is on the same side as before.
   */
  observe (protocol: string, target: Pick<CheckTarget, 'service' | 'host' | 'port'>, result: CheckResult): Transition | null {
    const key = `${protocol}|${target.service}|${target.host}|${target.port}`
    const previous = this.last.get(key) ?? null
    if (previous === result.checkStatus) return null // the steady state: nothing to write
    this.last.set(key, result.checkStatus)
    const passing = isPassingStatus(result.checkStatus)
    const wasPassing = previous === null || isPassingStatus(previous)
    if (passing === wasPassing) return null
    const where = hostPort(target.host, target.port)
    const flip: Transition = {
      protocol,
      service: target.service,
      target: where,
      result: passing ? 'passing' : 'failing',
      from: previous,
      to: result.checkStatus,
      code: result.code,
      duration_ms: tenthsOfMs(result.durationMs),
      message: oneLine(result.message)
    }
    this.remember(flip)
    if (this.logger === undefined || this.limiter?.allow(STATE_CHANGE_CATEGORY, key) === false) return flip
    this.logger.info(flip, `Health check for ${protocol}/${target.service} at ${where} ${passing ? 'succeeded' : 'failed'}, ` +
      `status: ${previous ?? '-'} -> ${result.checkStatus}, code: ${result.code}, check duration: ${flip.duration_ms}ms, info: ${JSON.stringify(flip.message)}`)
    return flip
  }

  /** Puts a flip in the ring of the last {@link RECENT_TRANSITIONS}. */
  private remember (flip: Transition): void {
    this.ring[this.ringNext] = { ts: this.nowSeconds(), ...flip }
    this.ringNext = (this.ringNext + 1) % RECENT_TRANSITIONS
  }

  /** The last {@link RECENT_TRANSITIONS} flips (at most), newest first; copies. */
  recent (): RecentTransition[] {
    const n = this.ring.length
    const out: RecentTransition[] = []
    for (let i = 1; i <= n; i++) out.push({ ...(this.ring[(this.ringNext - i + n) % n] as RecentTransition) })
    return out
  }

  /** Targets currently remembered. */
  get size (): number {
    return this.last.size
  }
}
