/**
 * The spool tools: `haup`, `hadown`, `hastatus`, `halist`, `hashowdowned` (and, ours,
 * `haweight`) are one program whose default action differs (CONTRACT section 6). Each action is
 * a small function over the shared spool module; this file runs them. Arguments are parsed in
 * `tool-args.ts`, lines formatted in `tool-output.ts`.
 *
 * (ours) `hadown --drain` / `--maint` write a drain or maint file; `haweight SERVICE... PERCENT`
 * sets a weight (`--clear` removes it); `hastatus` prints `DRAIN`/`MAINT` lines in the `DOWN`
 * shape and a `WEIGHT\t<percent>\t<svc>` line after the state line when a weight is set.
 */
import { readFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { hasCode } from '../errors.js'
import { Spool } from '../spool/spool.js'
import { SpoolWeights } from '../spool/weight.js'
import { runFleetTool, toolFleet } from './fleet-tools.js'
import { USAGE, keysOf, parseToolArgs, type Action, type ToolArgs } from './tool-args.js'
import { displayName, downLine, pyJson, weightLine } from './tool-output.js'

/** Where the tools write; injected by tests. */
export interface ToolIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  env: Readonly<Record<string, string | undefined>>
}

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

async function actionUp (args: ToolArgs): Promise<number> {
  const spool = await Spool.open(args.spoolRoot, { write: true })
  for (const key of keysOf(args)) await spool.up(key)
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

async function actionDown (args: ToolArgs, io: ToolIO): Promise<number> {
  const reason = await reasonFor(args, io)
  if (reason === null) return 1
  const spool = await Spool.open(args.spoolRoot, { write: true })
  for (const key of keysOf(args)) await spool.down(key, { reason, expiration: args.expiration, state: args.state })
  return 0
}

async function actionWeight (args: ToolArgs): Promise<number> {
  const weights = new SpoolWeights(await Spool.open(args.spoolRoot, { write: true }))
  for (const key of keysOf(args)) {
    if (args.weight === undefined) await weights.clear(key)
    else await weights.set(key, args.weight)
  }
  return 0
}

async function actionStatus (args: ToolArgs, io: ToolIO): Promise<number> {
  const spool = new Spool(args.spoolRoot)
  const weights = new SpoolWeights(spool)
  let code = 0
  for (const key of keysOf(args)) {
    const state = spool.status(key)
    if (state.up) {
      io.stdout(`UP\t${displayName(key)}\n`)
    } else {
      io.stdout(`${downLine(state.entry)}\n`)
      code = 1
    }
    const weight = await weights.get(key)
    if (weight !== null) io.stdout(`${weightLine(weight)}\n`)
  }
  return code
}

async function actionStatusDowned (args: ToolArgs, io: ToolIO): Promise<number> {
  for (const entry of await new Spool(args.spoolRoot).listDown()) io.stdout(`${downLine(entry)}\n`)
  return 0
}

async function actionList (args: ToolArgs, io: ToolIO): Promise<number> {
  const url = `http://127.0.0.1:${args.daemonPort}/recent`
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
  if (!res.ok) throw new Error(`${url} answered ${res.status}`)
  const body = await res.json() as { seen_services?: Array<[string, unknown]> }
  for (const [service, last] of body.seen_services ?? []) io.stdout(`${service} last_response=${pyJson(last)}\n`)
  return 0
}

const handlers: Record<Action, (args: ToolArgs, io: ToolIO) => Promise<number>> = {
  up: actionUp,
  down: actionDown,
  status: actionStatus,
  status_downed: actionStatusDowned,
  list: actionList,
  weight: actionWeight
}

/**
 * Runs a tool. Exit codes: 0 ok; 1 a service is down, draining or in maint (status), a
 * nonhuman without `-r`, or a spool/daemon/etcd error; 2 usage or config error.
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
  if (args.help) { io.stdout(`${usage}\n`); return 0 }
  try {
    // (ours) With -c naming a config with a fleet, see fleet-tools.ts.
    const fleet = await toolFleet(args)
    const local = async (): Promise<number> => await handlers[args.action](args, io)
    if (fleet !== null) return await runFleetTool(args, fleet, { stdout: io.stdout, env: io.env, reasonFor: async () => await reasonFor(args, io), local })
    return await local()
  } catch (err) {
    const usageError = hasCode(err, 'HC_ERR_USAGE')
    io.stderr(`${prog}: ${(err as Error).message}\n${usageError ? `${usage}\n` : ''}`)
    return usageError || hasCode(err, 'HC_ERR_CONFIG') ? 2 : 1
  }
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
