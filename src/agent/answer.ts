/**
 * (ours) What the agent answers for one request: the spool state, the service's configured
 * check (run through the health service, so the spool gate, the cache and `max_clients`
 * apply) and the weight, as one {@link AgentReply}.
 *
 * | spool / check                      | reply                              |
 * |------------------------------------|------------------------------------|
 * | no file, check passes (or none)    | `ready up[ <n>%]`                  |
 * | no file, check fails               | `ready down[ <n>%] #<message>`     |
 * | `down` file                        | `ready down[ <n>%] #<message>`     |
 * | `drain` file, check passes         | `drain up[ <n>%] #<message>`       |
 * | `drain` file, check fails          | `drain down[ <n>%] #<message>`     |
 * | `maint` file                       | `maint stopped[ <n>%] #<message>`  |
 * | spool or weight file unreadable    | `ready down #<error>` (fail closed) |
 *
 * `<message>` is the HTTP answer's body (`Service web in drain state since ...: deploy`, or the
 * checker's failure), so HAProxy's check description says what the HTTP check would.
 *
 * (ours) With load weights on, `<n>` is the lowest of the spool's weight and the service's load
 * weight (see {@link agentWeight}); the admin and operational words are unchanged by it.
 */
import { isPassingStatus } from '../checkers/status.js'
import type { CheckResult } from '../checks/result.js'
import type { HealthService } from '../checks/health.js'
import { LOCAL_HOST } from '../spool/spool.js'
import type { SpoolWeights } from '../spool/weight.js'
import type { AgentCheck } from '../config/agent.js'
import type { LoadSampler } from '../ops/load-weight.js'
import type { AgentReply, AgentRequest } from './reply.js'

/** What {@link answerAgent} reads. */
export interface AnswerDeps {
  health: Pick<HealthService, 'check'>
  weights: Pick<SpoolWeights, 'effective'>
  checks: ReadonlyMap<string, AgentCheck>
  /** (ours) The load-weight sampler when load weights are on; absent when off. */
  load?: Pick<LoadSampler, 'weight'> | undefined
}

/**
 * (ours) The weight the agent sends, percent: the lowest of the spool's (`haweight` for `all`,
 * the service, the service's port) and the load weight (docs/operator-guide.md "Load weights").
 *
 * @param spool - the spool's weight; undefined when none is set.
 * @param load - the service's load weight; null when load weights are on but no pressure source
 *   is usable (ignored: the spool's weight alone, 100 when none); undefined when load weights
 *   are off (the spool's weight alone, none when none is set, as without load weights).
 * @returns undefined only when load weights are off and no spool weight is set. With load
 *   weights on a weight is always sent: HAProxy keeps the last weight an agent sent, so a
 *   reply without one would leave a lowered load weight in place after its source went away.
 */
export function agentWeight (spool: number | undefined, load: number | null | undefined): number | undefined {
  if (load === undefined) return spool
  if (load === null) return spool ?? 100
  return spool === undefined ? load : Math.min(spool, load)
}

/** The reply for a health result and a weight; see the table in the file comment. */
export function replyFor (result: CheckResult, weight: number | undefined): AgentReply {
  const state = result.spool?.state
  if (state === 'maint') return { admin: 'maint', health: 'stopped', weight, reason: result.message }
  const passing = isPassingStatus(result.checkStatus)
  return {
    admin: state === 'drain' ? 'drain' : 'ready',
    health: passing ? 'up' : 'down',
    weight,
    reason: passing && state !== 'drain' ? undefined : result.message
  }
}

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * Answers one request. Never rejects: any failure is a `down` reply (fail closed).
 * `client` (the agent's peer address) shares outbound slots fairly with other clients.
 *
 * The target is this machine (127.0.0.1). With a configured check, the request's port (when
 * given) replaces the check's port; without one, the spool alone answers.
 */
export async function answerAgent (req: AgentRequest, deps: AnswerDeps, client?: string): Promise<AgentReply> {
  try {
    const check = deps.checks.get(req.service)
    const port = req.port ?? check?.port ?? 0
    const result = await deps.health.check({
      protocol: check?.protocol ?? 'spool',
      target: { service: req.service, host: LOCAL_HOST, address: LOCAL_HOST, port, query: check?.query ?? '', queryString: check?.queryString ?? '', headers: {} },
      noCache: false,
      client
    })
    let weight: number | undefined
    try {
      weight = agentWeight((await deps.weights.effective(req.service, port))?.weight, deps.load?.weight(req.service))
    } catch (err) {
      const reply = replyFor(result, undefined)
      return reply.admin === 'maint' ? reply : { admin: reply.admin, health: 'down', reason: message(err) }
    }
    return replyFor(result, weight)
  } catch (err) {
    return { admin: 'ready', health: 'down', reason: `agent error: ${message(err)}` }
  }
}
