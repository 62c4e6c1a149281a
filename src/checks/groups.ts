/**
 * (ours) Check groups: one answer for several checks, as gruntwork's health-checker gives a
 * cloud balancer that can ask only one URL per instance. A group run is
 *
 * 1. the spool gate for the group's name (and port; 0 = the whole group), as the `spool`
 *    protocol answers it: a `down` or `maint` file answers 503 without probing; a `drain` file
 *    lets the members run and, when they all pass, answers 404 (`disable-on-404`);
 * 2. every member at once, each through the health service's cache, in-flight sharing,
 *    `max_clients` limit and timeout, exactly as the same single check would be (so a group
 *    and `/tcp/<svc>/5432/` share one cached result);
 * 3. 200 when every member passes, else `group_failure_code`.
 *
 * Concurrent requests for one group (and port) share one run. Members are checked on this
 * machine (127.0.0.1); probing members pass the check-target guard like any probe.
 */
import { performance } from 'node:perf_hooks'
import { isPassingStatus, type CheckStatus } from '../checkers/status.js'
import type { CheckResult } from './result.js'
import type { CheckerRegistry } from '../checkers/index.js'
import { LOCAL_HOST, type SpoolEntry } from '../spool/spool.js'
import type { CheckGuard } from './check-guard.js'
import type { GroupDefinition, GroupMember } from '../config/groups.js'
import type { CheckRequest, HealthService } from './health.js'
import { HC_ERR_NO_GROUP } from '../errors.js'

/** One member's answer within a group run. */
export interface MemberResult {
  /** The member as configured (`tcp/5432`). */
  readonly spec: string
  readonly result: CheckResult
}

/** The answer of a group run. */
export interface GroupResult {
  readonly group: string
  readonly port: number
  /** HTTP status to answer: 200, `group_failure_code`, or the spool's 503 / 404 (drain). */
  readonly code: number
  /** The first failing member's check status; `L7OK` when all pass; the spool's when it answered. */
  readonly checkStatus: CheckStatus
  /** One line: the spool's answer, the first failing member, or how many passed. */
  readonly message: string
  /** Members in config order; empty when the spool answered without probing. */
  readonly members: readonly MemberResult[]
  /** Wall-clock milliseconds of the run. */
  readonly durationMs: number
  /** The spool file that decided or marked the answer (down, maint, drain). */
  readonly spool?: SpoolEntry | undefined
}

/** What a {@link GroupService} is built from. */
export interface GroupDeps {
  groups: ReadonlyMap<string, GroupDefinition>
  health: Pick<HealthService, 'check' | 'checkWithoutSpool'>
  /** Decides whether probing members may connect to 127.0.0.1 (`allowed_check_networks`). */
  guard: Pick<CheckGuard, 'checkLiteral'>
  checkers: CheckerRegistry
  /** `group_failure_code`. */
  failureCode: number
}

/** Options of one run. */
export interface GroupRunOptions {
  /** `Pragma: no-cache`: probe every member afresh; such a run neither joins nor is joined. */
  noCache: boolean
  /**
   * Who asked (the client address): members take outbound slots in that client's share (see
   * `outbound.ts`). A run joined by others stays in the share of the client that started it.
   */
  client?: string | undefined
}

/** Runs groups; one per server. Holds only the runs in flight. */
export class GroupService {
  private readonly deps: GroupDeps
  private readonly inFlight = new Map<string, Promise<GroupResult>>()

  constructor (deps: GroupDeps) {
    this.deps = deps
  }

  /** True when a group of this name is configured. */
  has (name: string): boolean {
    return this.deps.groups.has(name)
  }

  /** Runs in flight now (for tests and stats). */
  get running (): number {
    return this.inFlight.size
  }

  /**
   * Runs group `name` for `port`, or joins the run in flight for them. Never rejects.
   *
   * @throws HC_ERR_NO_GROUP when no such group is configured (check {@link GroupService.has} first).
   */
  async run (name: string, port: number, opts: GroupRunOptions): Promise<GroupResult> {
    const group = this.deps.groups.get(name)
    if (group === undefined) throw new HC_ERR_NO_GROUP(name)
    if (opts.noCache) return await this.runOnce(group, port, opts)
    const key = `${name}\u0000${port}`
    const pending = this.inFlight.get(key)
    if (pending !== undefined) return await pending
    const running = this.runOnce(group, port, opts)
    this.inFlight.set(key, running)
    try {
      return await running
    } finally {
      this.inFlight.delete(key)
    }
  }

  private async runOnce (group: GroupDefinition, port: number, opts: GroupRunOptions): Promise<GroupResult> {
    const started = performance.now()
    const base = { group: group.name, port }
    const gate = await this.deps.health.check({ protocol: 'spool', target: this.target(group.name, port, ''), noCache: false })
    const draining = gate.code !== 200 && gate.checkStatus === 'L7OKC' && gate.spool?.state === 'drain'
    if (gate.code !== 200 && !draining) {
      return { ...base, code: gate.code, checkStatus: gate.checkStatus, message: gate.message, members: [], durationMs: performance.now() - started, spool: gate.spool }
    }
    const members = await Promise.all(group.members.map(async (member) => ({ spec: member.spec, result: await this.member(group.name, member, opts) })))
    const durationMs = performance.now() - started
    const failed = members.find((m) => !isPassingStatus(m.result.checkStatus))
    if (failed !== undefined) {
      const { spec, result } = failed
      return { ...base, code: this.deps.failureCode, checkStatus: result.checkStatus, message: `${spec} failed (${result.checkStatus})`, members, durationMs, spool: gate.spool }
    }
    if (draining) return { ...base, code: gate.code, checkStatus: gate.checkStatus, message: gate.message, members, durationMs, spool: gate.spool }
    return { ...base, code: 200, checkStatus: 'L7OK', message: `all ${members.length} checks passed`, members, durationMs }
  }

  /** One member, through the cache and limit, after the guard for probes that connect. */
  private async member (group: string, member: GroupMember, opts: GroupRunOptions): Promise<CheckResult> {
    const checker = this.deps.checkers[member.protocol]
    const connects = checker !== undefined && checker.probes && checker.namedByService !== true
    const decision = connects ? this.deps.guard.checkLiteral(LOCAL_HOST) : undefined
    if (decision !== undefined && !decision.allowed) {
      return { code: decision.status, message: decision.message, checkStatus: 'SOCKERR', durationMs: 0 }
    }
    const target = { ...this.target(member.service ?? group, member.port, member.query), queryString: member.queryString }
    const req: CheckRequest = { protocol: member.protocol as CheckRequest['protocol'], target, noCache: opts.noCache, client: opts.client }
    return await this.deps.health.checkWithoutSpool(req)
  }

  private target (service: string, port: number, query: string): CheckRequest['target'] {
    return { service, host: LOCAL_HOST, address: LOCAL_HOST, port, query, queryString: '', headers: {} }
  }
}
