/**
 * What a check answers: the health service's output ({@link CheckResult}), and what a spool
 * state does to it, decided here and nowhere else (docs/operator-guide.md "Spool states"):
 *
 * | spool entry | probe                  | answer                                           |
 * |-------------|------------------------|--------------------------------------------------|
 * | none        | runs                   | the probe's result                               |
 * | `down`      | skipped                | 503 `Service <svc> in down state...`, `L7STS`    |
 * | `maint`     | skipped                | 503 `Service <svc> in maint state...`, `L7STS`   |
 * | `drain`     | runs, passes           | 404 `Service <svc> in drain state...`, `L7OKC`   |
 * | `drain`     | runs, fails            | the probe's failure (a broken host still goes down) |
 *
 * The 404 is what HAProxy's `http-check disable-on-404` soft-stops a server on; the agent
 * answers the same result with its own words (`agent/answer.ts`). Which entry a lookup finds
 * (`all`, then the service, then its port; the first `down`/`maint` wins) is the spool's rule,
 * `endsLookup` in `spool/format.ts`.
 */
import { isPassingStatus } from '../checkers/status.js'
import type { CheckOutcome } from '../checkers/types.js'
import { describeDown, endsLookup, type SpoolEntry } from '../spool/format.js'

/** A checker's outcome plus what the health service measured and read around it. */
export interface CheckResult extends CheckOutcome {
  /** Wall-clock milliseconds the probe took (0 for spool answers). */
  readonly durationMs: number
  /**
   * (ours) The spool entry that decided or marked this answer: a `down` or `maint` entry
   * (answered without probing), or a `drain` entry (probed; a passing probe answers 404).
   * Absent when no spool entry applies.
   */
  readonly spool?: SpoolEntry | undefined
}

/**
 * The answer a spool entry gives without probing, or `undefined` when the probe must run (no
 * entry, or `drain`).
 */
export function answerWithoutProbe (entry: SpoolEntry | undefined): CheckResult | undefined {
  if (entry === undefined || !endsLookup(entry.state)) return undefined
  return { code: 503, message: describeDown(entry), checkStatus: 'L7STS', durationMs: 0, spool: entry }
}

/**
 * The answer once the probe ran: the probe's result, or under a `drain` entry 404 `L7OKC` when
 * the probe passed (its failure otherwise).
 */
export function answerAfterProbe (entry: SpoolEntry | undefined, probe: CheckResult): CheckResult {
  if (entry === undefined) return probe
  if (!isPassingStatus(probe.checkStatus)) return { ...probe, spool: entry }
  return { code: 404, message: describeDown(entry), checkStatus: 'L7OKC', durationMs: probe.durationMs, spool: entry }
}
