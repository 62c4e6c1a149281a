/**
 * The check-target guard (ours). Request headers can point a probe at another host
 * (`X-Haproxy-Server-State: address=`, `X-Nerve-Check-IP`, docs/http-api.md "Check routes"), which would
 * make an open hacheck a port scanner and a way into cloud metadata services. Every probe
 * target must therefore lie inside `allowed_check_networks`.
 *
 * A host name is resolved once here and the resolved address is what the checker connects to
 * (`CheckTarget.address`), so a second resolution cannot switch it to another address
 * (DNS rebinding).
 *
 * Imports no Fastify.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { performance } from 'node:perf_hooks'
import { AllowList } from '../cidr.js'
import { DENIED_CHECK_NETWORKS } from '../config/checks.js'

/** What an address is, for messages and tests. Only the allow-list decides. */
export type AddressClass =
  | 'loopback' | 'private' | 'shared' | 'unique-local' | 'link-local' | 'cloud-metadata'
  | 'unspecified' | 'multicast' | 'reserved' | 'public'

/** Refused whatever `allowed_check_networks` says. */
const DENIED = new AllowList(DENIED_CHECK_NETWORKS)

const CLASSES: ReadonlyArray<[AddressClass, AllowList]> = [
  ['cloud-metadata', DENIED],
  ['unspecified', new AllowList(['0.0.0.0/8', '::/128'])],
  ['loopback', new AllowList(['127.0.0.0/8', '::1/128'])],
  ['private', new AllowList(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'])],
  ['shared', new AllowList(['100.64.0.0/10'])],
  ['unique-local', new AllowList(['fc00::/7'])],
  ['link-local', new AllowList(['169.254.0.0/16', 'fe80::/10'])],
  ['multicast', new AllowList(['224.0.0.0/4', 'ff00::/8'])],
  ['reserved', new AllowList(['240.0.0.0/4', '192.0.0.0/24', '198.18.0.0/15', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32', '100::/64'])]
]

/**
 * Classifies an IP literal (IPv4-mapped IPv6 counts as its IPv4 address).
 *
 * @throws TypeError when `address` is not an IP literal.
 */
export function classifyAddress (address: string): AddressClass {
  if (isIP(address) === 0) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`)
  for (const [name, list] of CLASSES) if (list.allows(address)) return name
  return 'public'
}

/** The guard's answer for one target host. */
export type GuardDecision =
  | { allowed: true, address: string }
  /** `status` is 403 for a refused network, 503 when the name cannot be resolved (down). */
  | { allowed: false, status: 403 | 503, message: string }

/** Resolves a host name to one address, as `dns.lookup` does (hosts file, then DNS). */
export type LookupFn = (host: string) => Promise<string>

/** Options for {@link CheckGuard}. */
export interface CheckGuardOptions {
  /** `allowed_check_networks`. */
  networks: readonly string[]
  /** Bound on one name resolution, milliseconds (`healthcheck_timeout`). */
  timeoutMs: number
  /** Name resolution; `dns.lookup` by default (tests pass their own). */
  lookup?: LookupFn
  /** Clock for {@link NAME_TTL_MS}, milliseconds; `performance.now` by default (tests pass their own). */
  nowMs?: () => number
}

/**
 * How long a host name's resolution is used before the name is looked up again, milliseconds.
 * `dns.lookup` (hosts file, then DNS, as every program on the host resolves) reports no TTL; a
 * few seconds spares the resolver a lookup per check (cache hits included) while a moved name
 * is followed within that time. Failed resolutions are not remembered.
 */
export const NAME_TTL_MS = 5000

/** Most IP-literal decisions, and most host names, remembered before each memo starts over. */
const MAX_REMEMBERED = 1024

const systemLookup: LookupFn = async (host) => (await dnsLookup(host, { verbatim: true })).address

function stripZone (address: string): string {
  const pct = address.indexOf('%')
  return pct === -1 ? address : address.slice(0, pct)
}

/** Decides whether a probe may go to a host. One per server; holds no mutable state. */
export class CheckGuard {
  private readonly allowed: AllowList
  private readonly timeoutMs: number
  private readonly lookup: LookupFn
  private readonly nowMs: () => number
  private readonly literals = new Map<string, GuardDecision>()
  /** Host name → its decision (while fresh) or the resolution in flight, shared by concurrent checks. */
  private readonly names = new Map<string, { decision: Promise<GuardDecision>, expires: number }>()

  constructor (opts: CheckGuardOptions) {
    this.allowed = new AllowList(opts.networks)
    this.timeoutMs = opts.timeoutMs
    this.lookup = opts.lookup ?? systemLookup
    this.nowMs = opts.nowMs ?? (() => performance.now())
  }

  /** True when the IP literal lies inside `allowed_check_networks`. */
  allowsAddress (address: string): boolean {
    try {
      return this.allowed.allows(address)
    } catch {
      return false
    }
  }

  /**
   * The decision for an IP literal, synchronously (the hot path: HAProxy sends addresses), or
   * `undefined` for a host name, which {@link CheckGuard.check} must resolve. Decisions depend
   * only on the address and the (frozen) networks, so they are remembered (bounded).
   */
  checkLiteral (host: string): GuardDecision | undefined {
    if (isIP(host) === 0) return undefined
    let decision = this.literals.get(host)
    if (decision === undefined) {
      decision = this.decide(host, host)
      if (this.literals.size >= MAX_REMEMBERED) this.literals.clear()
      this.literals.set(host, decision)
    }
    return decision
  }

  /**
   * Resolves `host` (an IP literal is used as is; a name is looked up once, and its decision
   * used for {@link NAME_TTL_MS}; concurrent checks of one name share one lookup) and checks the
   * address against the allow-list. Never rejects: a name that does not resolve in time is a
   * 503 decision (the target is down), a refused address a 403.
   */
  async check (host: string): Promise<GuardDecision> {
    const literal = this.checkLiteral(host)
    if (literal !== undefined) return literal
    const now = this.nowMs()
    const known = this.names.get(host)
    if (known !== undefined && known.expires > now) return await known.decision
    if (this.names.size >= MAX_REMEMBERED) this.names.clear()
    const decision = this.resolveAndDecide(host)
    // In flight until it settles; then kept for NAME_TTL_MS when it resolved, dropped when not.
    const entry = { decision, expires: Number.POSITIVE_INFINITY }
    this.names.set(host, entry)
    const settled = await decision
    if (this.names.get(host) === entry) {
      if (settled.allowed || settled.status === 403) entry.expires = this.nowMs() + NAME_TTL_MS
      else this.names.delete(host)
    }
    return settled
  }

  private async resolveAndDecide (host: string): Promise<GuardDecision> {
    let address: string
    try {
      address = await this.resolve(host)
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message
      return { allowed: false, status: 503, message: `cannot resolve check target ${host}: ${why}` }
    }
    return this.decide(host, address)
  }

  private decide (host: string, address: string): GuardDecision {
    const bare = stripZone(address)
    const named = address === host ? host : `${host} (${address})`
    if (DENIED.allows(bare)) {
      return { allowed: false, status: 403, message: `check target ${named} is not allowed: a cloud metadata address, refused whatever allowed_check_networks says` }
    }
    if (bare === address && this.allowsAddress(address)) return { allowed: true, address }
    const kind = bare !== address ? 'scoped' : classifyAddress(bare).replace('-', ' ')
    return {
      allowed: false,
      status: 403,
      message: `check target ${named} is not allowed: ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} address outside allowed_check_networks`
    }
  }

  private async resolve (host: string): Promise<string> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`no answer in ${this.timeoutMs}ms`)) }, this.timeoutMs)
    })
    try {
      return await Promise.race([this.lookup(host), timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}
