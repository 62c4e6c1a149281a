/**
 * (ours) What this host answered, per service, for the status publisher
 * (docs/fleet.md "Fleet status"). The check path only calls {@link AnswerBook.note}: a synchronous write into a
 * bounded map, no I/O, no promise. The publisher, on its own timer, asks
 * {@link AnswerBook.records} for the records to publish, combining each service's last answer
 * with the spool state the lookup finds now (so a `hadown` shows before the next check).
 *
 * Bounded: at most {@link MAX_PUBLISHED_SERVICES} services; past it, services not answered or
 * spooled for longest are forgotten (their records are removed, never a down: a down service
 * with a spool entry is found again by the spool scan).
 */
import type { CheckResult } from '../checks/result.js'
import type { SpoolEntry, SpoolState } from '../spool/format.js'
import type { Spool } from '../spool/spool.js'
import { SpoolWeights } from '../spool/weight.js'
import { statusReason, type StatusRecord, type StatusState } from './status.js'

/** Most services one host publishes. */
export const MAX_PUBLISHED_SERVICES = 512

interface Answer {
  code: number
  checkStatus: string
  reason: string
  /** True when a spool entry decided or marked the answer. */
  spooled: boolean
  /** Unix seconds of the answer. */
  at: number
}

interface Published {
  state: StatusState
  since: number
}

/** What the book needs from the spool, read on the publisher's timer (never the check path). */
export interface SpoolLookup {
  isUp: (service: string) => SpoolState
}

/** Answers per service, and since when each state has held. */
export class AnswerBook {
  private readonly answers = new Map<string, Answer>()
  private readonly states = new Map<string, Published>()
  private readonly nowSeconds: () => number
  private readonly maxServices: number

  private readonly onChange: () => void

  /** `onChange`: called (synchronously) when an answer differs from the last one for its service. */
  constructor (opts: { nowSeconds?: () => number, maxServices?: number, onChange?: () => void } = {}) {
    this.nowSeconds = opts.nowSeconds ?? (() => Date.now() / 1000)
    this.maxServices = opts.maxServices ?? MAX_PUBLISHED_SERVICES
    this.onChange = opts.onChange ?? (() => {})
  }

  /** Notes an answer (synchronous, bounded; the health service's answer listener). */
  note (service: string, result: CheckResult): void {
    const known = this.answers.get(service)
    if (known !== undefined) {
      // Refreshed in place; moved to the end only when it changes, so a steady host does not churn the map.
      if (known.code === result.code && known.checkStatus === result.checkStatus && known.spooled === (result.spool !== undefined)) {
        known.at = this.nowSeconds()
        return
      }
      this.answers.delete(service)
    }
    this.answers.set(service, { code: result.code, checkStatus: result.checkStatus, reason: result.message.slice(0, 400), spooled: result.spool !== undefined, at: this.nowSeconds() })
    this.trim()
    this.onChange()
  }

  /** Services the spool holds entries for (found by the publisher's scan) join the book. */
  noteSpooled (services: Iterable<string>): void {
    for (const service of services) {
      if (this.answers.has(service) || this.states.has(service)) continue
      this.states.set(service, { state: 'up', since: this.nowSeconds() })
    }
    this.trim()
  }

  private trim (): void {
    while (this.answers.size > this.maxServices) this.answers.delete(this.answers.keys().next().value as string)
    while (this.states.size > this.maxServices) {
      const first = this.states.keys().next().value as string
      this.states.delete(first)
    }
  }

  /** Every service the book knows. */
  services (): string[] {
    return [...new Set([...this.answers.keys(), ...this.states.keys()])].slice(0, this.maxServices)
  }

  /**
   * The record of each service now: the spool state (down, maint, drain) when an entry applies,
   * else the last answer (up for 2xx, failing otherwise), else `up` with code 0 (spooled once,
   * not answered since). `weightOf` gives the weight in percent, or null.
   */
  records (spool: SpoolLookup, weightOf: (service: string) => number | null): Map<string, StatusRecord> {
    const now = this.nowSeconds()
    const out = new Map<string, StatusRecord>()
    for (const service of this.services()) {
      let entry: SpoolEntry | undefined
      try {
        const st = spool.isUp(service)
        if (!st.up) entry = st.entry
      } catch (err) {
        entry = { key: { service }, file: service, reason: `spool lookup failed: ${(err as Error).message}`, expiration: null, creation: null, state: 'down' }
      }
      const answer = this.answers.get(service)
      let state: StatusState
      let code: number
      let checkStatus: string
      let reason: string
      if (entry !== undefined) {
        state = entry.state
        const fits = answer !== undefined && answer.spooled
        code = fits ? answer.code : (entry.state === 'drain' ? 404 : 503)
        checkStatus = fits ? answer.checkStatus : (entry.state === 'drain' ? 'L7OKC' : 'L7STS')
        reason = entry.reason
        // A drain whose probe fails answers the failure: a broken host is failing, not draining.
        if (entry.state === 'drain' && answer !== undefined && answer.spooled && answer.code >= 500) state = 'failing'
      } else if (answer !== undefined && !answer.spooled) {
        state = answer.code >= 200 && answer.code < 300 ? 'up' : 'failing'
        code = answer.code
        checkStatus = answer.checkStatus
        reason = state === 'up' ? '' : answer.reason
      } else {
        state = 'up'
        code = 0
        checkStatus = ''
        reason = 'no answer since its spool entry went'
      }
      const was = this.states.get(service)
      const since = was !== undefined && was.state === state ? was.since : now
      if (was === undefined || was.state !== state) this.states.set(service, { state, since })
      out.set(service, { state, code, check_status: checkStatus, reason: statusReason(reason), since, weight: weightOf(service), confirmed: now })
    }
    return out
  }
}

/**
 * The publisher's record source for a server: the book's records after adding the services
 * the spool holds entries for, with each service's weight file read (async, on the
 * publisher's timer).
 */
export function spoolRecordSource (book: AnswerBook, spool: Spool): () => Promise<Map<string, StatusRecord>> {
  const weights = new SpoolWeights(spool)
  return async () => {
    const spooled = await spool.listDown().catch(() => [])
    book.noteSpooled(spooled.map((e) => e.key.service).filter((s) => s !== 'all'))
    const found = new Map<string, number | null>()
    for (const service of book.services()) found.set(service, await weights.get({ service }).then((w) => w?.weight ?? null, () => null))
    return book.records(spool, (service) => found.get(service) ?? null)
  }
}
