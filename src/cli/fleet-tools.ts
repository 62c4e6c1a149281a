/**
 * (ours) The spool tools on the fleet: `-c FILE` names the server's YAML, whose
 * `fleet_etcd_endpoints` (and credentials: never taken from the command line) say where etcd is.
 *
 * - `hadown --fleet SVC...` / `haup --fleet` / `haweight --fleet`: the fleet-wide keys (every
 *   host); `--fleet-host HOST` instead: that host's keys, from anywhere. One etcd transaction
 *   per command: all services or none. Without `--fleet`/`--fleet-host` they act on the local
 *   spool, as without `-c`.
 * - `hastatus -c FILE SVC...`: the local lines, unchanged, then the fleet's entries for this
 *   host (fleet-wide and its own) with their source, then a `FLEET` line saying whether the
 *   daemon's fleet view is current (also when etcd cannot be reached: then without the fleet
 *   entries, and exit 1). `hashowdowned -c FILE`: the local down files, then the
 *   fleet's entries that apply here; `--fleet`: every fleet-wide and every host's entry.
 *
 * Fleet lines are the local ones plus two tab-separated fields: the source (`fleet` or
 * `host:<name>`) and who set it (`user@host`, empty when the value does not say).
 * `hastatus --fleet [SERVICE...]` prints what every host publishes instead (`fleet-status-tool.ts`).
 * `hadown` is checked against disruption budgets (docs/fleet.md "Disruption budgets"):
 * atomically with `--fleet-host`, refused without `--force` for `--fleet` on a budgeted
 * service or `all`; a local `hadown` consults the budget when etcd answers and proceeds
 * with a warning when it does not.
 * Exit codes: 0 ok; 1 down (status), or etcd unreachable or refusing (nothing written);
 * 2 usage or config error; 3 refused by a disruption budget.
 */
import { hostname, userInfo } from 'node:os'
import type { FleetSettings } from '../config/fleet.js'
import type { Config } from '../config/index.js'
import { hasCode, HC_ERR_ETCD, HC_ERR_ETCD_UNSURE, HC_ERR_ETCD_WRITE, HC_ERR_USAGE } from '../errors.js'
import { etcdReason } from '../fleet/client.js'
import { parseFleetKey, parseFleetSpoolValue, type FleetTarget } from '../fleet/keys.js'
import { MAX_KEYS_PER_WRITE, FleetStore } from '../fleet/store.js'
import { reasonProblem } from '../spool/change.js'
import type { SpoolEntry } from '../spool/spool.js'
import { keysOf, type Action, type ToolArgs } from './tool-args.js'
import { displayName, downLine } from './tool-output.js'
import { printFleetStatus } from './fleet-status-tool.js'

/** How long a local `hadown` waits for etcd to count a budget before going ahead without it. */
const LOCAL_BUDGET_TIMEOUT_MS = 2000

/** What the fleet tools borrow from the local ones. */
export interface FleetToolDeps {
  stdout: (text: string) => void
  stderr: (text: string) => void
  env: Readonly<Record<string, string | undefined>>
  /** The reason for a down (`-r`, or the default); null after refusing a nonhuman. */
  reasonFor: () => Promise<string | null>
  /** Runs the local action (the tools' usual behaviour). */
  local: () => Promise<number>
}

/**
 * The fleet settings for a tool command: null when the tool's config (`-c`, `$HACHECK_CONFIG`,
 * see `tool-config.ts`) has no fleet.
 *
 * @throws HC_ERR_USAGE for `--fleet`/`--fleet-host` without a fleet in the config.
 */
export function toolFleet (args: ToolArgs, config: Config): FleetSettings | null {
  const settings = config.fleet
  if (settings === null && (args.fleet || args.fleetHost !== undefined)) {
    throw new HC_ERR_USAGE(`--${args.fleet ? 'fleet' : 'fleet-host'} needs a config with fleet_etcd_endpoints set (-c FILE or $HACHECK_CONFIG)`)
  }
  return settings
}

function setByOf (env: FleetToolDeps['env']): string {
  return `${env.SUDO_USER ?? env.SSH_USER ?? userInfo().username}@${hostname()}`
}

/** A fleet line: the local line plus source and writer. */
function fleetLine (entry: SpoolEntry, source: string): string {
  return `${downLine(entry)}\t${source}\t${entry.setBy ?? ''}`
}

const sourceOf = (target: FleetTarget): string => target.scope === 'fleet' ? 'fleet' : `host:${target.host}`

/** Usage checks for fleet writes: a bounded key count and a reason fit for one tab-separated line. */
function checkWrite (args: ToolArgs, reason?: string): void {
  if (args.services.length > MAX_KEYS_PER_WRITE) throw new HC_ERR_USAGE(`at most ${MAX_KEYS_PER_WRITE} services per fleet command`)
  if (reason === undefined) return
  const problem = reasonProblem(reason, '--reason')
  if (problem !== undefined) throw new HC_ERR_USAGE(problem)
}

async function write (args: ToolArgs, store: FleetStore, target: FleetTarget, deps: FleetToolDeps): Promise<number> {
  const keys = keysOf(args)
  const setBy = setByOf(deps.env)
  if (args.action === 'up') {
    checkWrite(args)
    await store.remove(target, 'spool', keys)
  } else if (args.action === 'down') {
    const reason = await deps.reasonFor()
    if (reason === null) return 1
    checkWrite(args, reason)
    await store.down(target, keys, { reason, expiration: args.expiration ?? null, state: args.state, setBy, force: args.force })
  } else {
    checkWrite(args)
    if (args.weight === undefined) await store.remove(target, 'weight', keys)
    else await store.setWeight(target, keys, args.weight, setBy)
  }
  return 0
}

/** The `FLEET` line: whether the daemon on this machine (`-p`) has a current fleet view. */
async function daemonLine (port: number): Promise<string> {
  let body: { fleet?: { connected?: boolean, revision?: number | null, seconds_since_last_sync?: number | null, over_limit?: { keys: number, limit: number } | null } }
  try {
    const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(3000) })
    body = await res.json() as typeof body
  } catch {
    return `FLEET\tunknown\tno hacheck answering on 127.0.0.1:${port} (-p)`
  }
  const f = body.fleet
  if (f === undefined) return `FLEET\toff\tthe hacheck on port ${port} has no fleet configured`
  if (f.over_limit !== null && f.over_limit !== undefined) {
    return `FLEET\tover-limit\t${f.over_limit.keys} keys for this host, over the ${f.over_limit.limit} its view holds: every service answers down`
  }
  if (f.connected === true) return `FLEET\tcurrent\trevision ${String(f.revision)}`
  if (f.seconds_since_last_sync === null || f.seconds_since_last_sync === undefined) return 'FLEET\tstale\tnever synced with etcd'
  return `FLEET\tstale\tdisconnected from etcd, last synced ${Math.round(f.seconds_since_last_sync)}s ago at revision ${String(f.revision)}`
}

async function status (args: ToolArgs, store: FleetStore, targets: FleetTarget[], explicit: boolean, deps: FleetToolDeps): Promise<number> {
  // Read etcd before printing. When it cannot be reached, the local lines and the daemon's FLEET
  // line (how stale its view is) are still printed, then the error (exit 1).
  const keys = keysOf(args)
  let reads: Array<Array<{ target: FleetTarget } & Awaited<ReturnType<FleetStore['status']>>>> = []
  let failure: unknown
  try {
    reads = await Promise.all(keys.map(async (key) => await Promise.all(targets.map(async (target) => ({ target, ...await store.status(target, [key]) })))))
  } catch (err) {
    if (explicit) throw err
    failure = err
  }
  let code = explicit ? 0 : await deps.local()
  const now = Date.now() / 1000
  keys.forEach((key, i) => {
    let set = false
    // State lines first (fleet-wide, then the host's), then weight lines, as hastatus prints a file's.
    for (const { target, spool } of reads[i] ?? []) {
      for (const read of spool) {
        if (read.value.expiration !== null && read.value.expiration < now) continue
        deps.stdout(`${fleetLine({ key, file: read.file, ...read.value }, sourceOf(target))}\n`)
        set = true
        code = 1
      }
    }
    for (const { target, weight } of reads[i] ?? []) {
      for (const read of weight) {
        deps.stdout(`WEIGHT\t${read.value === null ? 'invalid' : read.value.weight}\t${displayName(key)}\t${sourceOf(target)}\t${read.value?.setBy ?? ''}\n`)
        if (read.value === null) code = 1
      }
    }
    if (explicit && !set) deps.stdout(`UP\t${displayName(key)}\t${targets.map(sourceOf).join(',')}\n`)
  })
  if (!explicit) deps.stdout(`${await daemonLine(args.daemonPort)}\n`)
  if (failure !== undefined) throw failure
  return code
}

async function statusDowned (args: ToolArgs, store: FleetStore, targets: Array<FleetTarget | { scope: 'hosts' }>, explicit: boolean, deps: FleetToolDeps): Promise<number> {
  const kvs = await store.listSpool(targets)
  if (!explicit) await deps.local()
  const now = Date.now() / 1000
  for (const kv of kvs) {
    const name = parseFleetKey(store.settings.prefix, kv.key)
    if (name === null || name.kind !== 'spool') continue
    const value = parseFleetSpoolValue(kv.value, kv.valueBytes).value
    if (value.expiration !== null && value.expiration < now) continue
    const source = name.scope === 'fleet' ? 'fleet' : `host:${name.host ?? ''}`
    deps.stdout(`${fleetLine({ key: name.key, file: name.file, ...value }, source)}\n`)
  }
  return 0
}

/**
 * A local `hadown`: asks etcd whether taking this host out stays within the budgets. The local
 * spool never depends on etcd: when it does not answer in time, the down goes ahead with a
 * warning. Not atomic (a local file is not in etcd's transaction); fleet-side changes are.
 *
 * @throws HC_ERR_BUDGET when a budget refuses.
 */
async function consultBudget (args: ToolArgs, settings: FleetSettings, deps: FleetToolDeps): Promise<void> {
  const store = await FleetStore.open(settings, undefined, LOCAL_BUDGET_TIMEOUT_MS)
  try {
    await store.checkHost(settings.host, keysOf(args))
  } catch (err) {
    if (hasCode(err, 'HC_ERR_BUDGET')) throw err
    deps.stderr(`warning: disruption budget not checked (etcd at ${settings.endpoints.join(', ')}: ${etcdReason(err)}); the local spool goes ahead\n`)
  } finally {
    store.close()
  }
}

/**
 * Runs a tool command with a fleet configured. Writes go to etcd only with `--fleet` or
 * `--fleet-host`; reads show the local spool beside the fleet unless one of them is given.
 *
 * @throws HC_ERR_USAGE; an Error naming etcd's endpoints when it cannot be reached or refuses.
 */
export async function runFleetTool (args: ToolArgs, settings: FleetSettings, deps: FleetToolDeps): Promise<number> {
  const explicit = args.fleet || args.fleetHost !== undefined
  const writes: readonly Action[] = ['up', 'down', 'weight']
  if (args.action === 'down' && !explicit && !args.force) await consultBudget(args, settings, deps)
  if (args.action === 'list' || (writes.includes(args.action) && !explicit)) return await deps.local()
  const store = await FleetStore.open(settings)
  try {
    const target: FleetTarget = args.fleetHost === undefined ? { scope: 'fleet' } : { scope: 'host', host: args.fleetHost }
    if (writes.includes(args.action)) return await write(args, store, target, deps)
    if (args.action === 'status' && args.fleet) return await printFleetStatus(store, args.services, deps.stdout)
    const here: FleetTarget = { scope: 'host', host: args.fleetHost ?? settings.host }
    if (args.action === 'status') return await status(args, store, args.fleet ? [target] : [{ scope: 'fleet' }, here], explicit, deps)
    return await statusDowned(args, store, args.fleet ? [target, { scope: 'hosts' }] : [{ scope: 'fleet' }, here], explicit, deps)
  } catch (err) {
    if (err instanceof Error && (err as { code?: string }).code?.startsWith('HC_ERR_') === true) throw err
    const endpoints = settings.endpoints.join(', ')
    const why = etcdReason(err)
    if (!writes.includes(args.action)) throw new HC_ERR_ETCD(endpoints, why)
    throw /DEADLINE_EXCEEDED/.test(why) ? new HC_ERR_ETCD_UNSURE(endpoints, why) : new HC_ERR_ETCD_WRITE(endpoints, why)
  } finally {
    store.close()
  }
}
