/**
 * The spool tools: `haup`, `hadown`, `hastatus`, `halist`, `hashowdowned` (and, ours,
 * `haweight`) are one program whose default action differs (CONTRACT section 6). Each action is
 * a small function over the shared spool module; this file parses arguments and prints.
 *
 * (ours) `hadown --drain` / `--maint` write a drain or maint file; `haweight SERVICE... PERCENT`
 * sets a weight (`--clear` removes it); `hastatus` prints `DRAIN`/`MAINT` lines in the `DOWN`
 * shape and a `WEIGHT\t<percent>\t<svc>` line after the state line when a weight is set.
 */
import { readFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import { HC_ERR_USAGE } from '../errors.js'
import { DEFAULT_SPOOL_ROOT, Spool, normaliseKey, pyFloat, type SpoolEntry, type SpoolKey, type SpoolStateName } from '../spool/spool.js'
import { MAX_WEIGHT, SpoolWeights, isValidWeight, type WeightEntry } from '../spool/weight.js'

/** The actions of `-a/--action` (`weight` is ours). */
export const ACTIONS = ['up', 'down', 'status', 'status_downed', 'list', 'weight'] as const
/** One of {@link ACTIONS}. */
export type Action = typeof ACTIONS[number]

/** Where the tools write; injected by tests. */
export interface ToolIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  env: Readonly<Record<string, string | undefined>>
}

/** Parsed tool arguments. */
export interface ToolArgs {
  action: Action
  services: string[]
  spoolRoot: string
  reason?: string
  expiration?: number
  servicePort?: number
  serviceHost?: string
  daemonPort: number
  help: boolean
  /** (ours) What `down` writes: `--drain`, `--maint`, else `down`. */
  state: SpoolStateName
  /** (ours) For `weight`: the percentage (the last positional), absent with `--clear`. */
  weight?: number
  /** (ours) For `weight`: remove the weight instead of setting one. */
  clear: boolean
}

const USAGE = 'usage: %s [-a up|down|status|status_downed|list|weight] [--spool-root DIR] [-r REASON] [-e UNIX_TS] [--drain|--maint] [-P PORT [-H HOST]] [-p DAEMON_PORT] SERVICE... | -a weight [--clear] SERVICE... PERCENT'
const NONHUMANS_FILE = '/etc/nonhumans'
const NONHUMAN_MESSAGE = 'please use --reason option to tell us who you REALLY are'

function numberArg (flag: string, value: string | undefined, test: (n: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !test(n)) throw new HC_ERR_USAGE(`${flag} must be ${what}, got ${JSON.stringify(value)}`)
  return n
}

const isPort = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 65535

/** The PERCENT of `haweight`: an integer 0-256, with or without a trailing `%`. */
function weightArg (value: string | undefined): number {
  if (value === undefined) throw new HC_ERR_USAGE('weight needs SERVICE... PERCENT (or --clear SERVICE...)')
  const n = Number(value.replace(/%$/, ''))
  if (!/^[0-9]+%?$/.test(value) || !isValidWeight(n)) throw new HC_ERR_USAGE(`PERCENT must be an integer 0-${MAX_WEIGHT}, got ${JSON.stringify(value)}`)
  return n
}

/**
 * Parses tool arguments.
 *
 * @param defaultAction - the action of the name the tool was called by.
 * @throws HC_ERR_USAGE on an unknown flag or action, a bad number, `-H` without `-P`, or a
 *   missing service name for up/down/status.
 */
export function parseToolArgs (argv: readonly string[], defaultAction: Action): ToolArgs {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        'spool-root': { type: 'string', default: DEFAULT_SPOOL_ROOT },
        action: { type: 'string', short: 'a', default: defaultAction },
        reason: { type: 'string', short: 'r' },
        expiration: { type: 'string', short: 'e' },
        'service-port': { type: 'string', short: 'P' },
        'service-host': { type: 'string', short: 'H' },
        port: { type: 'string', short: 'p', default: '3333' },
        help: { type: 'boolean', short: 'h', default: false },
        drain: { type: 'boolean', default: false },
        maint: { type: 'boolean', default: false },
        clear: { type: 'boolean', default: false }
      }
    })
  } catch (err) {
    throw new HC_ERR_USAGE((err as Error).message)
  }
  const v = parsed.values
  if (!(ACTIONS as readonly string[]).includes(v.action)) {
    throw new HC_ERR_USAGE(`action must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(v.action)}`)
  }
  const action = v.action as Action
  const args: ToolArgs = {
    action,
    services: parsed.positionals,
    spoolRoot: v['spool-root'],
    reason: v.reason,
    expiration: numberArg('--expiration', v.expiration, Number.isFinite, 'a unix timestamp'),
    servicePort: numberArg('--service-port', v['service-port'], isPort, 'a port 0-65535'),
    serviceHost: v['service-host'],
    daemonPort: numberArg('--port', v.port, (n) => isPort(n) && n > 0, 'a port 1-65535') ?? 3333,
    help: v.help,
    state: v.drain ? 'drain' : v.maint ? 'maint' : 'down',
    clear: v.clear
  }
  if (args.help) return args
  if (v.drain && v.maint) throw new HC_ERR_USAGE('--drain and --maint exclude each other')
  if ((v.drain || v.maint) && action !== 'down') throw new HC_ERR_USAGE(`--${args.state} only applies to down`)
  if (v.clear && action !== 'weight') throw new HC_ERR_USAGE('--clear only applies to weight')
  if (action === 'weight' && !v.clear) args.weight = weightArg(args.services.pop())
  if (args.serviceHost !== undefined && args.servicePort === undefined) {
    throw new HC_ERR_USAGE('--service-host requires --service-port')
  }
  if ((action === 'up' || action === 'down' || action === 'status' || action === 'weight') && args.services.length === 0) {
    throw new HC_ERR_USAGE(`${action} needs at least one service name`)
  }
  try {
    keysOf(args)
  } catch (err) {
    throw new HC_ERR_USAGE((err as Error).message)
  }
  return args
}

/** `svc`, or `svc:<host>:<port>` (host empty when absent: `svc::1234`), as the tools print keys. */
export function displayName (key: SpoolKey): string {
  return key.port === undefined ? key.service : `${key.service}:${key.host ?? ''}:${key.port}`
}

/**
 * `DOWN\t<expiration %f, or inf>\t<name>\t<reason>`; (ours) `DRAIN` or `MAINT` instead of
 * `DOWN` for those states, same fields.
 */
export function downLine (entry: SpoolEntry): string {
  const expiration = entry.expiration === null ? 'inf' : pyFloat(entry.expiration)
  return `${entry.state.toUpperCase()}\t${expiration}\t${displayName(entry.key)}\t${entry.reason}`
}

/** (ours) `WEIGHT\t<percent>\t<name>`. */
export function weightLine (entry: WeightEntry): string {
  return `WEIGHT\t${entry.weight}\t${displayName(entry.key)}`
}

/** `json.dumps` spacing (`", "`, `": "`), so `halist` prints what the reference printed. */
export function pyJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`).join(', ')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

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

/** The spool keys the arguments name, canonical; throws HC_ERR_SPOOL_NAME for a bad name. */
function keysOf (args: ToolArgs): SpoolKey[] {
  return args.services.map((service) => normaliseKey({ service, port: args.servicePort, host: args.serviceHost }))
}

async function actionUp (args: ToolArgs): Promise<number> {
  const spool = await Spool.open(args.spoolRoot, { write: true })
  for (const key of keysOf(args)) await spool.up(key)
  return 0
}

async function actionDown (args: ToolArgs, io: ToolIO): Promise<number> {
  let reason = args.reason
  if (reason === undefined) {
    reason = defaultReason(io.env)
    if (await isNonHuman(reason, io.env.HACHECK_NONHUMANS_FILE ?? NONHUMANS_FILE)) {
      io.stderr(`${NONHUMAN_MESSAGE}\n`)
      return 1
    }
  }
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
 * nonhuman without `-r`, or a spool/daemon error; 2 usage error.
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
    return await handlers[args.action](args, io)
  } catch (err) {
    io.stderr(`${prog}: ${(err as Error).message}\n`)
    return 1
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
