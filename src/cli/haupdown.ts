/**
 * The spool tools: `haup`, `hadown`, `hastatus`, `halist`, `hashowdowned` (and, ours,
 * `haweight`) are one program whose default action differs (docs/tools.md "Spool tools"). Each action is
 * a small function over the shared spool module; this file runs them. Arguments are parsed in
 * `tool-args.ts`, lines formatted in `tool-output.ts`.
 *
 * (ours) `hadown --drain` / `--maint` write a drain or maint file; `haweight SERVICE... PERCENT`
 * sets a weight (`--clear` removes it); `hastatus` prints what the daemon answers (the server's
 * lookup, `tool-status.ts`), `DRAIN`/`MAINT` lines in the `DOWN` shape, and a
 * `WEIGHT\t<percent>\t<svc>` line after the state line when a weight is set; with load weights
 * on, a `LOAD\t<percent>\t<svc>\t...` line after them: the load weight the pressure read now
 * gives, with its inputs.
 */
import { constants } from 'node:fs'
import { access, readFile, stat } from 'node:fs/promises'
import { userInfo } from 'node:os'
import type { LoadWeightSettings } from '../config/load-weight.js'
import { errnoCode, hasCode, HC_ERR_DAEMON_LIST, HC_ERR_SPOOL_ROOT } from '../errors.js'
import type { FleetSettings } from '../config/fleet.js'
import { LoadSampler } from '../ops/load-weight.js'
import { Spool, spoolRootError } from '../spool/spool.js'
import { SpoolWeights } from '../spool/weight.js'
import { runFleetTool, toolFleet } from './fleet-tools.js'
import { repairAfterWrite, unreadableLines } from './spool-access.js'
import { HELP, USAGE, keysOf, parseToolArgs, type Action, type ToolArgs } from './tool-args.js'
import { displayName, downLine, loadLine, pyJson, stateLine, weightLine } from './tool-output.js'
import { effectiveLookup } from './tool-status.js'
import { loadToolConfig, type SpoolRootChoice } from './tool-config.js'

/** Where the tools write; injected by tests. */
export interface ToolIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  env: Readonly<Record<string, string | undefined>>
  /**
   * The development config of a source checkout, or null for none; found next to this install
   * by default (see `tool-config.ts`).
   */
  checkout?: string | null
}

/** Tool arguments with the spool root resolved, the name the tool was run by, the fleet the config names (null: none) and (ours) its load-weight settings. */
type RunArgs = ToolArgs & { spoolRoot: string, prog: string, fleetSettings: FleetSettings | null, loadWeight?: LoadWeightSettings | null }

const NONHUMANS_FILE = '/etc/nonhumans'
const NONHUMAN_MESSAGE = 'please use --reason option to tell us who you REALLY are'

async function isNonHuman (name: string, file: string): Promise<boolean> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return false
  }
  return text.split('\n').some((line) => line.replace(/#.*/, '').trim() === name)
}

/** The default reason: $SUDO_USER, else $SSH_USER, else the login name. */
function defaultReason (env: ToolIO['env']): string {
  return env.SUDO_USER ?? env.SSH_USER ?? userInfo().username
}

async function actionUp (args: RunArgs, io: ToolIO): Promise<number> {
  const spool = await Spool.open(args.spoolRoot, { write: true })
  for (const key of keysOf(args)) await spool.up(key)
  await repairAfterWrite(args.prog, args.spoolRoot, io.stderr)
  return 0
}

/** The reason for a down: `-r`, else the default; null (after saying why) for a nonhuman without `-r`. */
async function reasonFor (args: ToolArgs, io: ToolIO): Promise<string | null> {
  if (args.reason !== undefined) return args.reason
  const reason = defaultReason(io.env)
  if (await isNonHuman(reason, io.env.HACHECK_NONHUMANS_FILE ?? NONHUMANS_FILE)) {
    io.stderr(`${NONHUMAN_MESSAGE}\n`)
    return null
  }
  return reason
}

async function actionDown (args: RunArgs, io: ToolIO): Promise<number> {
  const reason = await reasonFor(args, io)
  if (reason === null) return 1
  const spool = await Spool.open(args.spoolRoot, { write: true })
  for (const key of keysOf(args)) await spool.down(key, { reason, expiration: args.expiration, state: args.state })
  await repairAfterWrite(args.prog, args.spoolRoot, io.stderr)
  return 0
}

async function actionWeight (args: RunArgs, io: ToolIO): Promise<number> {
  const weights = new SpoolWeights(await Spool.open(args.spoolRoot, { write: true }))
  for (const key of keysOf(args)) {
    if (args.weight === undefined) await weights.clear(key)
    else await weights.set(key, args.weight)
  }
  await repairAfterWrite(args.prog, args.spoolRoot, io.stderr)
  return 0
}

/** (ours) What the daemon answers for each service, with the server's lookup (see `tool-status.ts`). */
async function actionStatus (args: RunArgs, io: ToolIO): Promise<number> {
  const { spool, note } = await effectiveLookup(args.spoolRoot, { fleet: args.fleetSettings, daemonPort: args.daemonPort })
  const weights = new SpoolWeights(new Spool(args.spoolRoot))
  // (ours) One read of the pressure files, without the server's hysteresis.
  const load = args.loadWeight == null ? undefined : new LoadSampler({ settings: args.loadWeight })
  load?.sample()
  let code = 0
  for (const key of keysOf(args)) {
    const state = spool.isUp(key.service, key.port, key.host)
    io.stdout(`${stateLine(key, state, note)}\n`)
    if (!state.up) code = 1
    const weight = await weights.get(key)
    if (weight !== null) io.stdout(`${weightLine(weight)}\n`)
    if (load !== undefined) io.stdout(`${loadLine(displayName(key), load.scopeOf(key.service), load.settings.window)}\n`)
  }
  // (ours) What the server cannot read, it answers down: say so, with the fix.
  const unreadable = unreadableLines(args.prog, args.spoolRoot, keysOf(args))
  for (const line of unreadable) io.stderr(`${line}\n`)
  return unreadable.length > 0 ? 1 : code
}

async function actionStatusDowned (args: RunArgs, io: ToolIO): Promise<number> {
  for (const entry of await new Spool(args.spoolRoot).listDown()) io.stdout(`${downLine(entry)}\n`)
  return 0
}

/** Bound on halist's request to the daemon, as the reference's `urlopen(..., timeout=3)`. */
const LIST_TIMEOUT_MS = 3000

/** Why a fetch failed, in one line: the innermost cause (`connect ECONNREFUSED 127.0.0.1:3333`). */
function fetchFailure (err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${LIST_TIMEOUT_MS / 1000}s`
  let inner: unknown = err
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause
  return inner instanceof Error ? inner.message : String(inner)
}

async function actionList (args: ToolArgs, io: ToolIO): Promise<number> {
  const url = `http://127.0.0.1:${args.daemonPort}/recent`
  let body: { seen_services?: Array<[string, unknown]> }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(LIST_TIMEOUT_MS) })
    if (!res.ok) throw new HC_ERR_DAEMON_LIST(url, `answered ${res.status}`)
    body = await res.json() as typeof body
  } catch (err) {
    if (hasCode(err, 'HC_ERR_DAEMON_LIST')) throw err
    throw new HC_ERR_DAEMON_LIST(url, fetchFailure(err))
  }
  for (const [service, last] of body.seen_services ?? []) io.stdout(`${service} last_response=${pyJson(last)}\n`)
  return 0
}

const handlers: Record<Action, (args: RunArgs, io: ToolIO) => Promise<number>> = {
  up: actionUp,
  down: actionDown,
  status: actionStatus,
  status_downed: actionStatusDowned,
  list: actionList,
  weight: actionWeight
}

/** Actions that only read the spool: on a root that does not exist they say so, never `UP`. */
const READ_ONLY: ReadonlySet<Action> = new Set(['status', 'status_downed'])

/**
 * For the read-only actions: the spool root must exist, or the answer would be a false `UP`
 * (a forgotten flag, a spool elsewhere).
 *
 * @throws HC_ERR_SPOOL_ROOT naming the root, where it came from and how to give another.
 */
async function requireRoot (choice: SpoolRootChoice): Promise<void> {
  const from = choice.from === 'the default' ? choice.from : `from ${choice.from}`
  try {
    if ((await stat(choice.root)).isDirectory()) {
      // A root the caller cannot search would read as every service down: say why instead.
      await access(choice.root, constants.X_OK).catch((err: unknown) => { throw spoolRootError(choice.root, err) })
      return
    }
  } catch (err) {
    if (hasCode(err, 'HC_ERR_SPOOL_ROOT')) throw err
    if (errnoCode(err) === 'EACCES') throw spoolRootError(choice.root, err)
    if (errnoCode(err) !== 'ENOENT') throw new HC_ERR_SPOOL_ROOT(`cannot read spool root ${choice.root} (${from}): ${(err as Error).message}`)
    throw new HC_ERR_SPOOL_ROOT(`spool root ${choice.root} (${from}) does not exist: is hacheck's spool elsewhere? Give --spool-root, -c FILE or HACHECK_SPOOL_ROOT`)
  }
  throw new HC_ERR_SPOOL_ROOT(`spool root ${choice.root} (${from}) is not a directory`)
}

/**
 * Runs a tool. Exit codes: 0 ok; 1 a service is down, draining or in maint (status), a
 * nonhuman without `-r`, or a spool/daemon/etcd error; 2 usage or config error; 3 (ours)
 * refused by a disruption budget (docs/fleet.md "Disruption budgets").
 *
 * @param prog - the name to show in usage lines (`hadown`, ...).
 */
export async function main (prog: string, argv: readonly string[], defaultAction: Action, io: ToolIO): Promise<number> {
  const usage = USAGE.replace('%s', prog)
  let args: ToolArgs
  try {
    args = parseToolArgs(argv, defaultAction)
  } catch (err) {
    io.stderr(`${prog}: ${(err as Error).message}\n${usage}\n`)
    return 2
  }
  if (args.help) { io.stdout(`${HELP.replaceAll('%s', prog)}\n`); return 0 }
  try {
    if (args.action === 'list') return await actionList(args, io)
    const tool = await loadToolConfig(args, io.env, { checkout: io.checkout })
    const runArgs: RunArgs = { ...args, spoolRoot: tool.spoolRoot.root, prog, fleetSettings: tool.config.fleet, loadWeight: tool.config.loadWeight }
    const local = async (): Promise<number> => {
      if (READ_ONLY.has(args.action)) await requireRoot(tool.spoolRoot)
      return await handlers[args.action](runArgs, io)
    }
    // (ours) With a config naming a fleet, see fleet-tools.ts.
    const fleet = toolFleet(args, tool.config)
    if (fleet !== null) return await runFleetTool(runArgs, fleet, { stdout: io.stdout, stderr: io.stderr, env: io.env, reasonFor: async () => await reasonFor(args, io), local })
    return await local()
  } catch (err) {
    const usageError = hasCode(err, 'HC_ERR_USAGE')
    io.stderr(`${prog}: ${(err as Error).message}\n${usageError ? `${usage}\n` : ''}`)
    if (isBudgetRefusal(err)) return 3
    return usageError || hasCode(err, 'HC_ERR_CONFIG') ? 2 : 1
  }
}

/** (ours) An error that a disruption budget refused with: exit 3. */
export function isBudgetRefusal (err: unknown): boolean {
  return hasCode(err, 'HC_ERR_BUDGET') || hasCode(err, 'HC_ERR_BUDGET_FLEET') || hasCode(err, 'HC_ERR_BUDGET_UNKNOWN')
}

/** Entry point for the `bin/` shims. */
export function run (prog: string, defaultAction: Action): void {
  const io: ToolIO = {
    stdout: (text) => { process.stdout.write(text) },
    stderr: (text) => { process.stderr.write(text) },
    env: process.env
  }
  main(prog, process.argv.slice(2), defaultAction, io).then((code) => { process.exitCode = code }, (err: unknown) => {
    process.stderr.write(`${prog}: ${String(err)}\n`)
    process.exitCode = 1
  })
}
