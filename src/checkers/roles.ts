/**
 * Role checks shared by the database checkers (`postgres`, `mysql`, `redis`): the query names
 * the role a server must have (`/postgres/db/5432/primary`, `/redis/cache/6379/replica`), the
 * query string bounds a replica's lag (`?max_lag_seconds=5`, `?max_lag_bytes=1048576`), and
 * every answer names the role found (`role replica, lag 0.4 s`), whatever the verdict.
 *
 * Modelled on Patroni's REST endpoints (`GET /primary`, `GET /replica?lag=...`), which
 * HAProxy setups already route by: 200 when the node has the role, 503 otherwise.
 */
import { AllowList } from '../cidr.js'
import type { Config } from '../config/index.js'
import { quoted } from './status.js'
import { down, up, type CheckContext, type Checker, type CheckOutcome, type CheckTarget } from './types.js'

/** A lag bound a role check may take: seconds behind, or bytes of WAL behind (PostgreSQL). */
export type LagParam = 'max_lag_seconds' | 'max_lag_bytes'

/** What one protocol's role queries look like. */
export interface RoleSpec {
  /** The protocol, for messages (`postgres`). */
  readonly protocol: string
  /** The roles the query may name (`primary`, `replica`); the empty query is the plain login check. */
  readonly roles: readonly string[]
  /** The role that may carry lag bounds (`replica`). */
  readonly lagRole: string
  /** The lag bounds this protocol measures. */
  readonly lagParams: readonly LagParam[]
  /**
   * What a query that names none of `roles` means: `reject` (404; the new protocols, where a
   * typo must fail loudly) or `login` (the plain login check, whatever the query and query
   * string: `mysql`, because Yelp's hacheck ignores them and a drop-in must keep answering
   * the URLs balancers already use).
   */
  readonly otherQueries: 'reject' | 'login'
}

/** A parsed role query. */
export interface RoleQuery {
  /** The role wanted; `null` for the plain login check (empty query). */
  readonly role: string | null
  /** Most seconds a replica may be behind; `null` when not bounded. */
  readonly maxLagSeconds: number | null
  /** Most bytes a replica may be behind; `null` when not bounded. */
  readonly maxLagBytes: number | null
}

/** The plain login check. */
const LOGIN: RoleQuery = Object.freeze({ role: null, maxLagSeconds: null, maxLagBytes: null })

/** Longest query string a role check reads; longer ones are refused rather than parsed. */
const MAX_QUERY_STRING = 256
/** Largest lag bound accepted: about 31 years in seconds, 1 PiB in bytes. */
const MAX_BOUND = 2 ** 50
const SECONDS_RE = /^[0-9]{1,10}(\.[0-9]{1,6})?$/
const BYTES_RE = /^[0-9]{1,16}$/

/**
 * Parses the query (a role or nothing) and the query string (lag bounds, only on the lag
 * role). Strict on purpose, but for `otherQueries: 'login'`: a typo in a routing rule must
 * fail loudly (404), not quietly check something else.
 *
 * @returns the parsed query, or a reason it is not one of this protocol's role checks.
 */
export function parseRoleQuery (spec: RoleSpec, query: string, queryString: string): RoleQuery | { error: string } {
  const names = spec.roles.join(', ')
  if (spec.otherQueries === 'login' && !spec.roles.includes(query)) return LOGIN
  if (query !== '' && !spec.roles.includes(query)) {
    return { error: `unknown ${spec.protocol} role ${quoted(query)} (expected ${names}, or nothing for a login check)` }
  }
  const role = query === '' ? null : query
  const bounds: Record<LagParam, number | null> = { max_lag_seconds: null, max_lag_bytes: null }
  if (queryString === '') return { role, maxLagSeconds: null, maxLagBytes: null }
  if (queryString.length > MAX_QUERY_STRING) return { error: 'query string too long' }
  for (const pair of queryString.split('&')) {
    const eq = pair.indexOf('=')
    const key = eq === -1 ? pair : pair.slice(0, eq)
    const value = eq === -1 ? '' : pair.slice(eq + 1)
    if (!(spec.lagParams as readonly string[]).includes(key)) {
      return { error: `unknown parameter ${quoted(key)} for ${spec.protocol} (expected ${spec.lagParams.join(' or ')})` }
    }
    const param = key as LagParam
    if (role !== spec.lagRole) return { error: `${param} applies to /${spec.lagRole} only` }
    if (bounds[param] !== null) return { error: `${param} given twice` }
    const number = Number(value)
    if (!(param === 'max_lag_seconds' ? SECONDS_RE : BYTES_RE).test(value) || number > MAX_BOUND) {
      return { error: `${param} must be a number of ${param === 'max_lag_seconds' ? 'seconds' : 'bytes (an integer)'}, got ${quoted(value)}` }
    }
    bounds[param] = number
  }
  return { role, maxLagSeconds: bounds.max_lag_seconds, maxLagBytes: bounds.max_lag_bytes }
}

/** The {@link Checker.rejectsQuery} hook of a role-checking protocol. */
export function roleQueryRejecter (spec: RoleSpec): (query: string, queryString: string) => string | undefined {
  return (query, queryString) => {
    const parsed = parseRoleQuery(spec, query, queryString)
    return 'error' in parsed ? parsed.error : undefined
  }
}

/** What a server turned out to be. */
export interface FoundRole {
  /** The role it has (`primary`, `replica`, `master`, `read-only`, ...). */
  readonly role: string
  /** Seconds behind its primary; `null` when unknown; absent when not measured. */
  readonly lagSeconds?: number | null
  /** Bytes behind its primary; `null` when unknown; absent when not measured. */
  readonly lagBytes?: number | null
  /** Why it cannot serve in this role now (`link to master down`); absent when it can. */
  readonly problem?: string
  /** Extra facts for the answer body (`read_only OFF`). */
  readonly detail?: string
}

/** Seconds without trailing noise: `0`, `0.04`, `12.346`. */
export function formatSeconds (seconds: number): string {
  return String(Math.round(seconds * 1000) / 1000)
}

/** The answer body for a role: `role replica, lag 0.4 s, 120 bytes` (plus detail and problem). */
export function describeRole (found: FoundRole): string {
  const parts = [`role ${found.role}`]
  if (found.detail !== undefined) parts[0] += ` (${found.detail})`
  if (found.lagSeconds !== undefined) parts.push(found.lagSeconds === null ? 'lag unknown' : `lag ${formatSeconds(found.lagSeconds)} s`)
  if (found.lagBytes !== undefined && found.lagBytes !== null) parts.push(`${found.lagBytes} bytes`)
  if (found.problem !== undefined) parts.push(found.problem)
  return parts.join(', ')
}

/**
 * The verdict on a server for a role query: up (`L7OK`) when it has the role wanted, no
 * problem, and a lag within the bounds; otherwise 503 `L7STS` saying what was found and why
 * it does not do. An unknown lag fails a bounded query (fail closed).
 */
export function roleVerdict (query: RoleQuery, found: FoundRole): CheckOutcome {
  const text = describeRole(found)
  if (query.role !== null && found.role !== query.role) return down(`${text}, wanted ${query.role}`, 'L7STS')
  if (found.problem !== undefined) return down(text, 'L7STS')
  if (query.maxLagSeconds !== null) {
    if (found.lagSeconds === undefined || found.lagSeconds === null) return down(`${text}, wanted at most ${query.maxLagSeconds} s`, 'L7STS')
    if (found.lagSeconds > query.maxLagSeconds) return down(`${text}, over max_lag_seconds ${query.maxLagSeconds}`, 'L7STS')
  }
  if (query.maxLagBytes !== null) {
    if (found.lagBytes === undefined || found.lagBytes === null) return down(`${text}, byte lag unknown, wanted at most ${query.maxLagBytes} bytes`, 'L7STS')
    if (found.lagBytes > query.maxLagBytes) return down(`${text}, over max_lag_bytes ${query.maxLagBytes}`, 'L7STS')
  }
  return up(text)
}

/** The protocols whose checks log in, each with its `<protocol>_credential_*` keys. */
export type CredentialProtocol = 'mysql' | 'postgres' | 'redis'

/** What a credentialed role checker is made of: its role queries, its login, its probe. */
export interface RoleCheckerSpec {
  /** Names the `<protocol>_credential_*` keys. */
  readonly protocol: CredentialProtocol
  /** The role queries. */
  readonly roles: RoleSpec
  /**
   * The configured login: an outcome to answer instead of probing (no user configured), or
   * whether a secret (a password) would be sent, which only declared targets may receive.
   */
  readonly login: (config: Config) => { readonly refuse: CheckOutcome } | { readonly secret: boolean }
  /** The probe itself, once the query is parsed and the target may receive the login. */
  readonly probe: (target: CheckTarget, ctx: CheckContext, query: RoleQuery) => Promise<CheckOutcome>
}

/** The `<protocol>_credential_hosts` list of a config, built once per config. */
const credentialHostLists = new WeakMap<Config, Map<CredentialProtocol, AllowList>>()

function credentialHosts (config: Config, protocol: CredentialProtocol): AllowList {
  let lists = credentialHostLists.get(config)
  if (lists === undefined) credentialHostLists.set(config, lists = new Map())
  let list = lists.get(protocol)
  if (list === undefined) lists.set(protocol, list = new AllowList(config[`${protocol}_credential_hosts`]))
  return list
}

/**
 * Why `target` may not receive `protocol`'s credentials, or undefined when it may: its address
 * must lie in `<protocol>_credential_hosts` and its port be one of `<protocol>_credential_ports`
 * (docs/roles.md "Where credentials go").
 */
export function credentialTargetProblem (config: Config, protocol: CredentialProtocol, target: Pick<CheckTarget, 'address' | 'port'>): string | undefined {
  const ports = config[`${protocol}_credential_ports`]
  if (credentialHosts(config, protocol).allows(target.address) && ports.includes(target.port)) return undefined
  return `${protocol} credentials go only to ${protocol}_credential_hosts on ${protocol}_credential_ports; ` +
    `${target.address.includes(':') ? `[${target.address}]` : target.address}:${target.port} is not declared (refused before connecting)`
}

/**
 * A credentialed role checker (`mysql`, `postgres`, `redis`): the query parsed as a role query
 * (404 when it is none of the protocol's), the login checked (500 without a user, as the
 * reference's mysql), and a password sent only to a declared target: any other address or
 * port is refused with 403 before connecting, as the check-target guard refuses a network.
 */
export function roleChecker (spec: RoleCheckerSpec): Checker {
  return {
    pathRequired: false,
    probes: true,
    rejectsQuery: roleQueryRejecter(spec.roles),
    check: async (target, ctx) => {
      const query = parseRoleQuery(spec.roles, target.query, target.queryString)
      if ('error' in query) return down(query.error, 'L7STS', 404)
      const login = spec.login(ctx.config)
      if ('refuse' in login) return login.refuse
      const problem = login.secret ? credentialTargetProblem(ctx.config, spec.protocol, target) : undefined
      if (problem !== undefined) return down(problem, 'L7STS', 403)
      return await spec.probe(target, ctx, query)
    }
  }
}
