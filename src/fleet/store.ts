/**
 * (ours) The tools' side of the fleet: reading and writing fleet keys in etcd. Every write of a
 * command is one etcd transaction, so `hadown --fleet a b c` applies to all three services or
 * to none: a tool that cannot reach etcd, or is refused, never half-applies.
 *
 * A down with an expiry is written on an etcd lease that ends a moment after it, so etcd
 * removes the key itself (readers already treat it as absent from its `expiration` on).
 * Re-downing with the same reason and state keeps the original `creation`, as `hadown` does
 * for files; the read and the write are tied by a compare on each key's revision, so a
 * concurrent writer is never overwritten with stale data (the tool retries, then gives up).
 */
import type { Etcd3, ICompare, IRequestOp } from 'etcd3'
import type { FleetSettings } from '../config/fleet.js'
import { HC_ERR_BUDGET_FLEET, HC_ERR_FLEET_CONTENDED, HC_ERR_FLEET_LIMIT, HC_ERR_FLEET_LISTING } from '../errors.js'
import { budgetKey, checkBudget, formatBudget, parseBudgetValue, type Budget } from './budget.js'
import { readFleetStatus, type FleetStatusRead } from './status-view.js'
import { openEtcd, prefixEnd, rangePrefixes, readFleetCredentials, toFleetKv } from './client.js'
import {
  fleetKey, fleetKindPrefix, formatFleetSpoolValue, formatFleetWeightValue, parseFleetSpoolValue, parseFleetWeightValue,
  type FleetKind, type FleetTarget, type FleetWeightValue, type FleetSpoolValue
} from './keys.js'
import { MAX_FLEET_ENTRIES, type FleetKv } from './view.js'
import type { SpoolKey, SpoolStateName } from '../spool/format.js'

/** Most keys one command writes: etcd's default `--max-txn-ops`. */
export const MAX_KEYS_PER_WRITE = 128
/** Attempts at a read-then-write when another writer changes a key in between. */
const WRITE_ATTEMPTS = 3
/** Attempts for a budget-checked write: what it counts (every host's status) changes more often. */
const BUDGET_ATTEMPTS = 8

/** What {@link FleetStore.down} writes. */
export interface FleetDownOptions {
  reason: string
  /** Unix seconds; null: until `haup`. */
  expiration: number | null
  state: SpoolStateName
  /** `user@host` of the operator. */
  setBy: string
  /** `--force`: past any disruption budget; recorded in the value as `forced`. */
  force?: boolean
}

/** One key read back, as the tools print it. */
export interface FleetRead<T> {
  key: string
  file: string
  value: T
  modRevision: number
}

/** A connection to etcd for one tool command. */
export class FleetStore {
  readonly settings: FleetSettings
  private readonly client: Etcd3
  private readonly nowSeconds: () => number

  private constructor (settings: FleetSettings, client: Etcd3, nowSeconds: () => number) {
    this.settings = settings
    this.client = client
    this.nowSeconds = nowSeconds
  }

  /**
   * Opens a client (it connects on the first call); `timeoutMs` bounds each call (default 5 s).
   *
   * @throws HC_ERR_CONFIG for an unreadable TLS file.
   */
  static async open (settings: FleetSettings, nowSeconds: () => number = () => Date.now() / 1000, timeoutMs?: number): Promise<FleetStore> {
    const credentials = await readFleetCredentials(settings)
    return new FleetStore(settings, await openEtcd(settings, { credentials, timeoutMs }), nowSeconds)
  }

  /** Closes the connection. */
  close (): void {
    this.client.close()
  }

  private keyOf (target: FleetTarget, kind: FleetKind, key: SpoolKey): string {
    return fleetKey(this.settings.prefix, target, kind, key)
  }

  /** The current values of some keys, at one revision; absent keys are left out. */
  private async readKeys (keys: readonly string[]): Promise<Map<string, FleetKv>> {
    const res = await this.client.kv.txn({ success: keys.map((key) => ({ request_range: { key: Buffer.from(key) } })) })
    const found = new Map<string, FleetKv>()
    for (const op of res.responses) {
      for (const kv of op.response_range?.kvs ?? []) found.set(kv.key.toString('utf8'), toFleetKv(kv))
    }
    return found
  }

  /** Keys under `prefix` now (etcd's `count_only`: no keys or values travel). */
  private async count (prefix: string): Promise<number> {
    return Number((await this.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), count_only: true })).count)
  }

  /**
   * Refuses a write that would give a host's view more than `MAX_FLEET_ENTRIES` keys: a host
   * holds the fleet-wide keys plus its own, so a fleet-wide write counts against the host with
   * the most keys. Checked before the write (a concurrent writer can still pass it: the view
   * then fails closed, never open).
   *
   * @param created - keys the write adds (absent before).
   * @throws HC_ERR_FLEET_LIMIT naming the host and the count.
   */
  private async checkRoom (target: FleetTarget, created: number): Promise<void> {
    if (created === 0) return
    const prefix = this.settings.prefix
    const fleetWide = await this.count(`${prefix}spool/`) + await this.count(`${prefix}weight/`)
    let host = target.scope === 'host' ? `host ${target.host}` : 'every host'
    let hostKeys = 0
    if (target.scope === 'host') {
      hostKeys = await this.count(`${prefix}hosts/${target.host}/`)
    } else {
      const perHost = new Map<string, number>()
      for (const kv of (await rangePrefixes(this.client, [`${prefix}hosts/`], { keysOnly: true })).kvs) {
        const name = kv.key.slice(prefix.length + 'hosts/'.length).split('/')[0] ?? ''
        perHost.set(name, (perHost.get(name) ?? 0) + 1)
      }
      for (const [name, n] of perHost) if (n > hostKeys) { hostKeys = n; host = `host ${name}` }
    }
    const after = fleetWide + hostKeys + created
    if (after > MAX_FLEET_ENTRIES) throw new HC_ERR_FLEET_LIMIT(host, after, MAX_FLEET_ENTRIES)
  }

  /** Grants a lease that outlives `expiration` by a second; null when there is no expiry. */
  private async leaseFor (expiration: number | null): Promise<string | null> {
    if (expiration === null) return null
    // etcd raises a TTL below its minimum (about 1.5 election timeouts) to that minimum.
    const ttl = Math.max(1, Math.ceil(expiration - this.nowSeconds()) + 1)
    return (await this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 })).ID
  }

  /**
   * The budget check of a down (docs/fleet.md "Disruption budgets"): for one host, the
   * compares that keep the count true until the write; for every host, a refusal when a
   * service has a budget or `all` is named, unless forced.
   *
   * @throws HC_ERR_BUDGET, HC_ERR_BUDGET_FLEET, HC_ERR_BUDGET_UNKNOWN; the etcd error.
   */
  private async budgetCompares (target: FleetTarget, keys: readonly SpoolKey[], force: boolean): Promise<ICompare[]> {
    const services = [...new Set(keys.map((k) => k.service))]
    const check = await checkBudget(this.client, this.settings.prefix, services, target.scope === 'host' ? target.host : null, force, this.nowSeconds())
    if (target.scope === 'fleet' && !force) {
      if (services.includes('all')) throw new HC_ERR_BUDGET_FLEET('hadown --fleet all')
      if (check.budgeted.length > 0) throw new HC_ERR_BUDGET_FLEET(`hadown --fleet ${check.budgeted.join(' ')} (a disruption budget is set)`)
    }
    return force || target.scope === 'fleet' ? [] : check.compares
  }

  /**
   * Marks keys down (or drain, or maint) for `target`, in one transaction, within every
   * disruption budget unless `opts.force` (see {@link FleetStore.budgetCompares}).
   *
   * @throws the etcd error (nothing written), HC_ERR_FLEET_LIMIT when the new keys would pass
   *   a host's limit, HC_ERR_BUDGET* when a budget refuses, or HC_ERR_FLEET_CONTENDED when
   *   other writers kept changing the keys.
   */
  async down (target: FleetTarget, keys: readonly SpoolKey[], opts: FleetDownOptions): Promise<void> {
    const names = keys.map((key) => ({ key, name: this.keyOf(target, 'spool', key) }))
    const existing = await this.readKeys(names.map((n) => n.name))
    await this.checkRoom(target, names.filter((n) => !existing.has(n.name)).length)
    const lease = await this.leaseFor(opts.expiration)
    const force = opts.force === true
    for (let attempt = 1; ; attempt++) {
      const budget = await this.budgetCompares(target, keys, force)
      const current = attempt === 1 ? existing : await this.readKeys(names.map((n) => n.name))
      const ops: IRequestOp[] = names.map(({ name }) => {
        const previous = current.get(name)
        const old = previous === undefined ? null : parseFleetSpoolValue(previous.value, previous.valueBytes).value
        const creation = old !== null && old.reason === opts.reason && old.state === opts.state && old.creation !== null ? old.creation : this.nowSeconds()
        const value = formatFleetSpoolValue({ reason: opts.reason, expiration: opts.expiration, creation, state: opts.state }, opts.setBy, force)
        return { request_put: { key: Buffer.from(name), value: Buffer.from(value), ...(lease === null ? {} : { lease }) } }
      })
      const compare: ICompare[] = names.map(({ name }) => ({ key: Buffer.from(name), target: 'Mod' as const, result: 'Equal' as const, mod_revision: current.get(name)?.modRevision ?? 0 }))
      if ((await this.client.kv.txn({ compare: [...compare, ...budget], success: ops })).succeeded) return
      if (attempt >= (budget.length > 0 ? BUDGET_ATTEMPTS : WRITE_ATTEMPTS)) throw new HC_ERR_FLEET_CONTENDED()
      // Jittered, so two writers that collided do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * attempt))
    }
  }

  /** Sets the disruption budget of a service. */
  async setBudget (service: string, budget: Budget, setBy: string): Promise<void> {
    await this.client.kv.put({ key: Buffer.from(budgetKey(this.settings.prefix, service)), value: Buffer.from(formatBudget(budget, setBy)) })
  }

  /** Removes the disruption budget of a service (absent is fine). */
  async clearBudget (service: string): Promise<void> {
    await this.client.kv.deleteRange({ key: Buffer.from(budgetKey(this.settings.prefix, service)) })
  }

  /** The budget of a service, null when none is set (a value that cannot be read is `{ count: 0 }`). */
  async budget (service: string): Promise<{ budget: Budget, problem: string | null } | null> {
    const kv = (await this.readKeys([budgetKey(this.settings.prefix, service)])).get(budgetKey(this.settings.prefix, service))
    return kv === undefined ? null : parseBudgetValue(kv.value, kv.valueBytes)
  }

  /**
   * The budget check alone, for a change this store does not write (a local `hadown`, the
   * remote spool route): throws as {@link FleetStore.down} would for `host`.
   */
  async checkHost (host: string, keys: readonly SpoolKey[]): Promise<void> {
    await this.budgetCompares({ scope: 'host', host }, keys, false)
  }

  /** What every host publishes (or, with `service`, that service's records). */
  async fleetStatus (service?: string): Promise<FleetStatusRead> {
    return await readFleetStatus(this.client, this.settings.prefix, service)
  }

  /** Removes keys of `kind` for `target` (absent is fine), in one transaction. */
  async remove (target: FleetTarget, kind: FleetKind, keys: readonly SpoolKey[]): Promise<void> {
    const success = keys.map((key) => ({ request_delete_range: { key: Buffer.from(this.keyOf(target, kind, key)) } }))
    await this.client.kv.txn({ success })
  }

  /**
   * Sets a weight on keys for `target`, in one transaction.
   *
   * @throws the etcd error (nothing written), or HC_ERR_FLEET_LIMIT when the new keys would
   *   pass a host's limit.
   */
  async setWeight (target: FleetTarget, keys: readonly SpoolKey[], weight: number, setBy: string): Promise<void> {
    const names = keys.map((key) => this.keyOf(target, 'weight', key))
    const existing = await this.readKeys(names)
    await this.checkRoom(target, names.filter((n) => !existing.has(n)).length)
    const value = Buffer.from(formatFleetWeightValue(weight, this.nowSeconds(), setBy))
    await this.client.kv.txn({ success: keys.map((key) => ({ request_put: { key: Buffer.from(this.keyOf(target, 'weight', key)), value } })) })
  }

  /** The spool entries and weights set for exact keys (no `all`, as `hastatus` reads). */
  async status (target: FleetTarget, keys: readonly SpoolKey[]): Promise<{ spool: Array<FleetRead<FleetSpoolValue>>, weight: Array<FleetRead<FleetWeightValue | null>> }> {
    const spoolNames = keys.map((key) => this.keyOf(target, 'spool', key))
    const weightNames = keys.map((key) => this.keyOf(target, 'weight', key))
    const found = await this.readKeys([...spoolNames, ...weightNames])
    const read = <T>(names: string[], parse: (kv: FleetKv) => T): Array<FleetRead<T>> => names.flatMap((name) => {
      const kv = found.get(name)
      return kv === undefined ? [] : [{ key: name, file: name.slice(name.lastIndexOf('/') + 1), value: parse(kv), modRevision: kv.modRevision }]
    })
    return {
      spool: read(spoolNames, (kv) => parseFleetSpoolValue(kv.value, kv.valueBytes).value),
      weight: read(weightNames, (kv) => parseFleetWeightValue(kv.value, kv.valueBytes).value)
    }
  }

  /**
   * Every spool key under the prefixes of these targets, in key order (`hashowdowned`); a
   * `hosts` target with no host lists every host's.
   */
  async listSpool (targets: ReadonlyArray<FleetTarget | { scope: 'hosts' }>): Promise<FleetKv[]> {
    const prefixes = targets.map((t) => t.scope === 'hosts' ? `${this.settings.prefix}hosts/` : fleetKindPrefix(this.settings.prefix, t, 'spool'))
    const read = await rangePrefixes(this.client, prefixes)
    if (!read.complete) throw new HC_ERR_FLEET_LISTING(read.total, prefixes.join(', '), read.kvs.length)
    return read.kvs
  }
}
