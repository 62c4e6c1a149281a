/**
 * (ours) Disruption budgets (docs/fleet.md "Disruption budgets"), after Kubernetes'
 * PodDisruptionBudget `maxUnavailable`: `<prefix>budget/<service>` holds
 * `{"max_unavailable": N}` or `{"max_unavailable": "P%"}`, and no fleet-side change may take a
 * host out of a service when that would put more than the budget's hosts out.
 *
 * Counting rule, per service S: the hosts are those that publish a record under
 * `<prefix>status/S/` or have an entry of their own for S. A host is unavailable when its
 * published state is not `up` (down, drain, maint, failing, or an invalid record: fail closed),
 * or an entry takes it out: `<prefix>hosts/<host>/spool/S` (any port of S) or `.../spool/all`;
 * a fleet-wide `<prefix>spool/S` or `spool/all` takes every host out. A percentage is rounded
 * down (Kubernetes rounds `maxUnavailable` up; a budget here never lets out more than it says).
 *
 * The check is atomic: {@link checkBudget} reads the budgets, the status records of the
 * budgeted services named and the entries at one revision R, and returns compares (each range's mod revisions still below
 * R + 1) for the writer's transaction, so two writers that both passed the count cannot both
 * write: the second one's transaction fails, it reads again, and is refused.
 */
import type { Etcd3, ICompare } from 'etcd3'
import { HC_ERR_BUDGET, HC_ERR_BUDGET_UNKNOWN } from '../errors.js'
import { parseSpoolFileName } from '../spool/format.js'
import { prefixEnd, rangePrefixes } from './client.js'
import { parseFleetKey, parseFleetSpoolValue } from './keys.js'
import { parseStatusKey, parseStatusRecord, statusPrefix } from './status.js'
import type { FleetKv } from './view.js'

/** Largest budget value read, bytes. */
export const MAX_BUDGET_VALUE_BYTES = 1024
/** Largest `max_unavailable` count. */
export const MAX_BUDGET_COUNT = 1000000
/** Most keys one budget check reads (budgets, status records and entries together). */
export const MAX_BUDGET_READ_KEYS = 400000

/** A budget: a count of hosts, or a percentage of the service's hosts. */
export type Budget = { count: number } | { percent: number }

/** The budget key of a service. */
export function budgetKey (prefix: string, service: string): string {
  return `${prefix}budget/${service}`
}

/**
 * A budget from the operator's text: `N` (hosts) or `P%` (0-100).
 *
 * @returns the budget, or null when the text is neither.
 */
export function parseBudgetText (text: string): Budget | null {
  const pct = /^([0-9]{1,3})%$/.exec(text)
  if (pct !== null) { const p = Number(pct[1]); return p <= 100 ? { percent: p } : null }
  if (!/^[0-9]{1,7}$/.test(text)) return null
  const n = Number(text)
  return n <= MAX_BUDGET_COUNT ? { count: n } : null
}

/** The value written for a budget. */
export function formatBudget (budget: Budget, setBy: string): string {
  return JSON.stringify({ max_unavailable: 'count' in budget ? budget.count : `${budget.percent}%`, set_by: setBy })
}

/**
 * Reads a budget value. Never throws: a value that is too large or not a budget gives
 * `{ count: 0 }` with a problem (fail closed: no host may go out without `--force`).
 */
export function parseBudgetValue (value: Uint8Array, bytes = value.byteLength): { budget: Budget, problem: string | null } {
  const closed = (problem: string): { budget: Budget, problem: string } => ({ budget: { count: 0 }, problem })
  if (bytes > MAX_BUDGET_VALUE_BYTES) return closed(`budget value of ${bytes} bytes is over ${MAX_BUDGET_VALUE_BYTES}`)
  let doc: unknown
  try { doc = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')) } catch {}
  const m = doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>).max_unavailable : undefined
  const budget = typeof m === 'number' ? parseBudgetText(String(m)) : typeof m === 'string' ? parseBudgetText(m) : null
  return budget === null ? closed('budget value is not {"max_unavailable": N or "P%"}') : { budget, problem: null }
}

/** How many hosts of `hosts` the budget lets out. */
export function allowedOut (budget: Budget, hosts: number): number {
  return 'count' in budget ? budget.count : Math.floor(budget.percent * hosts / 100)
}

/** Who is out of one service, and why. */
export interface ServiceAvailability {
  /** Every host counted for the service. */
  hosts: Set<string>
  /** Host -> why it counts as unavailable. */
  out: Map<string, string>
}

/** What one read at one revision holds, by kind. */
interface BudgetRead {
  revision: number
  budgets: Map<string, { budget: Budget, problem: string | null }>
  status: FleetKv[]
  fleetEntries: FleetKv[]
  hostEntries: FleetKv[]
}

const serviceOfFile = (file: string): string => parseSpoolFileName(file)?.service ?? file

/**
 * Applies the counting rule to one service.
 *
 * @param nowSeconds - entries whose `expiration` has passed do not count.
 */
export function availability (prefix: string, service: string, read: Pick<BudgetRead, 'status' | 'fleetEntries' | 'hostEntries'>, nowSeconds: number): ServiceAvailability {
  const hosts = new Set<string>()
  const out = new Map<string, string>()
  const live = (kv: FleetKv): boolean => { const v = parseFleetSpoolValue(kv.value, kv.valueBytes).value; return v.expiration === null || v.expiration >= nowSeconds }
  for (const kv of read.status) {
    const name = parseStatusKey(prefix, kv.key)
    if (name === null || name.service !== service) continue
    hosts.add(name.host)
    const rec = parseStatusRecord(name.service, name.host, kv.value, kv.modRevision, kv.valueBytes)
    if (rec.state !== 'up') out.set(name.host, `${rec.state}${rec.reason === '' ? '' : ` (${rec.reason})`}`)
  }
  for (const kv of read.hostEntries) {
    const name = parseFleetKey(prefix, kv.key)
    if (name?.kind !== 'spool' || name.host === undefined) continue
    const svc = serviceOfFile(name.file)
    if (svc !== service && svc !== 'all') continue
    hosts.add(name.host)
    if (live(kv) && !out.has(name.host)) out.set(name.host, `fleet entry hosts/${name.host}/spool/${name.file}`)
  }
  for (const kv of read.fleetEntries) {
    const name = parseFleetKey(prefix, kv.key)
    if (name?.kind !== 'spool') continue
    const svc = serviceOfFile(name.file)
    if ((svc === service || svc === 'all') && live(kv)) for (const h of hosts) if (!out.has(h)) out.set(h, `fleet-wide entry spool/${name.file}`)
  }
  return { hosts, out }
}

/** The ranges a check of `services` reads and compares: budgets, those services' status, entries. */
function budgetRanges (prefix: string, services: readonly string[]): string[] {
  return [`${prefix}budget/`, ...services.map((s) => `${statusPrefix(prefix)}${s}/`), `${prefix}spool/`, `${prefix}hosts/`]
}

async function readForBudget (client: Etcd3, prefix: string, services: readonly string[]): Promise<BudgetRead> {
  const read = await rangePrefixes(client, budgetRanges(prefix, services), { maxKeys: MAX_BUDGET_READ_KEYS })
  if (!read.complete) throw new HC_ERR_BUDGET_UNKNOWN(`${read.total} keys to count, over the ${MAX_BUDGET_READ_KEYS} one check reads`)
  const out: BudgetRead = { revision: read.revision, budgets: new Map(), status: [], fleetEntries: [], hostEntries: [] }
  for (const kv of read.kvs) {
    if (kv.key.startsWith(`${prefix}budget/`)) out.budgets.set(kv.key.slice(prefix.length + 'budget/'.length), parseBudgetValue(kv.value, kv.valueBytes))
    else if (kv.key.startsWith(statusPrefix(prefix))) out.status.push(kv)
    else if (kv.key.startsWith(`${prefix}spool/`)) out.fleetEntries.push(kv)
    else if (kv.key.includes('/spool/')) out.hostEntries.push(kv)
  }
  return out
}

/** What a budget check found. */
export interface BudgetCheck {
  /** Compares for the writer's transaction: the ranges read are unchanged since the read. */
  compares: ICompare[]
  /** Services whose budget is set, among those asked about (for fleet-wide changes). */
  budgeted: string[]
}

/**
 * Checks that taking `host` out of `services` (`all`: every service with a budget) stays
 * within each service's budget, at one revision; returns the compares that make the writer's
 * transaction fail if anything counted changed meanwhile. With `force`, nothing is refused.
 *
 * @param host - the host to take out; null for a fleet-wide change (only `budgeted` is filled).
 * @throws HC_ERR_BUDGET naming the service, the budget and who is already out;
 *   HC_ERR_BUDGET_UNKNOWN when the state is too large to count; the etcd error when unreachable.
 */
export async function checkBudget (client: Etcd3, prefix: string, services: readonly string[], host: string | null, force: boolean, nowSeconds: number): Promise<BudgetCheck> {
  const unchanged = (p: string, revision: number): ICompare => ({ key: Buffer.from(p), range_end: prefixEnd(p), target: 'Mod', result: 'Less', mod_revision: revision + 1 })
  // The budgets alone first (a few keys): with none that applies, nothing else is read, and
  // the one compare still refuses the write if a budget is set meanwhile.
  const budgets = await rangePrefixes(client, [`${prefix}budget/`], { maxKeys: MAX_BUDGET_READ_KEYS })
  const names = new Set(budgets.kvs.map((kv) => kv.key.slice(prefix.length + 'budget/'.length)))
  if (!services.includes('all') && !services.some((s) => names.has(s))) return { compares: [unchanged(`${prefix}budget/`, budgets.revision)], budgeted: [] }
  const asked = services.includes('all') ? [...names] : services.filter((s) => names.has(s))
  const read = await readForBudget(client, prefix, asked)
  if (host !== null && !force) {
    for (const service of asked) {
      const { budget, problem } = read.budgets.get(service) ?? { budget: { count: 0 }, problem: null }
      const { hosts, out } = availability(prefix, service, read, nowSeconds)
      if (out.has(host)) continue
      hosts.add(host)
      const max = allowedOut(budget, hosts.size)
      if (out.size + 1 > max) {
        const who = out.size === 0 ? 'nobody' : [...out].slice(0, 20).map(([h, why]) => `${h} ${why}`).join(', ') + (out.size > 20 ? `, and ${out.size - 20} more` : '')
        const text = 'count' in budget ? `${budget.count}` : `${budget.percent}% of ${hosts.size} hosts = ${max}`
        throw new HC_ERR_BUDGET(service, `${text}${problem === null ? '' : ` (${problem})`}`, host, who)
      }
    }
  }
  const compares = budgetRanges(prefix, asked).map((p) => unchanged(p, read.revision))
  return { compares, budgeted: asked }
}
