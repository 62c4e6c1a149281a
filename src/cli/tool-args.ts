/**
 * The spool tools' command line: flags, actions and their checks, parsed into {@link ToolArgs}.
 * Pure: reads no file and prints nothing.
 */
import { parseArgs } from 'node:util'
import { FLEET_HOST_PATTERN } from '../config/fleet.js'
import { HC_ERR_USAGE } from '../errors.js'
import { DEFAULT_SPOOL_ROOT, normaliseKey, type SpoolKey, type SpoolStateName } from '../spool/spool.js'
import { MAX_WEIGHT, isValidWeight } from '../spool/weight.js'

/** The actions of `-a/--action` (`weight` is ours). */
export const ACTIONS = ['up', 'down', 'status', 'status_downed', 'list', 'weight'] as const
/** One of {@link ACTIONS}. */
export type Action = typeof ACTIONS[number]

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
  /** (ours) `-c, --config-file`: the server's YAML, for the fleet's etcd endpoints. */
  configFile?: string
  /** (ours) `--fleet`: act on the fleet-wide etcd keys instead of the local spool. */
  fleet: boolean
  /** (ours) `--fleet-host HOST`: act on one host's etcd keys instead of the local spool. */
  fleetHost?: string
}

/** The usage line; `%s` is the program name. */
export const USAGE = 'usage: %s [-a up|down|status|status_downed|list|weight] [--spool-root DIR] [-c FILE [--fleet|--fleet-host HOST]] [-r REASON] [-e UNIX_TS] [--drain|--maint] [-P PORT [-H HOST]] [-p DAEMON_PORT] SERVICE... | -a weight [--clear] SERVICE... PERCENT'

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
        clear: { type: 'boolean', default: false },
        'config-file': { type: 'string', short: 'c' },
        fleet: { type: 'boolean', default: false },
        'fleet-host': { type: 'string' }
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
    clear: v.clear,
    configFile: v['config-file'],
    fleet: v.fleet,
    fleetHost: v['fleet-host']
  }
  if (args.help) return args
  if (v.drain && v.maint) throw new HC_ERR_USAGE('--drain and --maint exclude each other')
  if ((v.drain || v.maint) && action !== 'down') throw new HC_ERR_USAGE(`--${args.state} only applies to down`)
  if (v.clear && action !== 'weight') throw new HC_ERR_USAGE('--clear only applies to weight')
  checkFleetArgs(args)
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

/** (ours) `--fleet` and `--fleet-host`: one or the other, a valid host name, not with `list`. */
function checkFleetArgs (args: ToolArgs): void {
  if (args.fleet && args.fleetHost !== undefined) throw new HC_ERR_USAGE('--fleet and --fleet-host exclude each other')
  if (args.fleetHost !== undefined && !new RegExp(FLEET_HOST_PATTERN).test(args.fleetHost)) {
    throw new HC_ERR_USAGE(`--fleet-host must be a host name ([a-zA-Z0-9._-]), got ${JSON.stringify(args.fleetHost.slice(0, 64))}`)
  }
  if ((args.fleet || args.fleetHost !== undefined) && args.action === 'list') throw new HC_ERR_USAGE('--fleet and --fleet-host do not apply to list')
}

/** The spool keys the arguments name, canonical; throws HC_ERR_SPOOL_NAME for a bad name. */
export function keysOf (args: ToolArgs): SpoolKey[] {
  return args.services.map((service) => normaliseKey({ service, port: args.servicePort, host: args.serviceHost }))
}
