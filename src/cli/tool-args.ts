/**
 * The spool tools' command line: flags, actions and their checks, parsed into {@link ToolArgs}.
 * Pure: reads no file and prints nothing.
 */
import { FLEET_HOST_PATTERN } from '../config/fleet.js'
import { HC_ERR_USAGE } from '../errors.js'
import { normaliseKey, type SpoolKey, type SpoolStateName } from '../spool/spool.js'
import { reasonProblem } from '../spool/change.js'
import { MAX_WEIGHT, isValidWeight } from '../spool/weight.js'
import { parseFlags, type FlagTable } from './flags.js'

/** The actions of `-a/--action` (`weight` is ours). */
export const ACTIONS = ['up', 'down', 'status', 'status_downed', 'list', 'weight'] as const
/** One of {@link ACTIONS}. */
export type Action = typeof ACTIONS[number]

/** Parsed tool arguments. */
export interface ToolArgs {
  action: Action
  services: string[]
  /** `--spool-root`, when given; see `tool-config.ts` for the rest of the order. */
  spoolRoot?: string
  /** `-c, --config-file`, when given: the server's YAML, for `spool_root` and the fleet's etcd endpoints. */
  configFile?: string
  reason?: string
  /** Unix seconds, always in the future: `-e UNIX_TS` or `-e +30m`. */
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
  /** (ours) `--fleet`: act on the fleet-wide etcd keys instead of the local spool. */
  fleet: boolean
  /** (ours) `--fleet-host HOST`: act on one host's etcd keys instead of the local spool. */
  fleetHost?: string
  /** (ours) `--force`: down past a disruption budget (recorded in the entry as `forced`). */
  force: boolean
}

/** The usage line; `%s` is the program name. */
export const USAGE = 'usage: %s [-a up|down|status|status_downed|list|weight] [-c FILE [--fleet|--fleet-host HOST] [--force]] [--spool-root DIR] [-r REASON] [-e UNIX_TS|+DURATION] [--drain|--maint] [-P PORT [-H HOST]] [-p DAEMON_PORT] SERVICE... | -a weight [--clear] SERVICE... PERCENT'

/** `--help`: the usage line, then a line per flag; `%s` is the program name. */
export const HELP = `${USAGE}

Spool tools: haup, hadown, hastatus, hashowdowned, halist, haweight are one program; the name
picks the default action.

  -a, --action ACTION       up, down, status, status_downed, list or weight (default: by name)
  -c, --config-file FILE    read spool_root from this hacheck config (default: $HACHECK_CONFIG,
                            in a source checkout config/dev.yaml, the file npm start uses)
      --spool-root DIR      spool directory (default: $HACHECK_SPOOL_ROOT, else the config's
                            spool_root, else /var/spool/hacheck)
  -r, --reason TEXT         reason for down (default: $SUDO_USER, else $SSH_USER, else login name)
  -e, --expiration WHEN     down until WHEN: unix seconds, or +N with s, m, h or d (+30m, +2h, +1d)
      --drain               down: drain instead (the check still runs; 404 if it passes)
      --maint               down: admin maintenance instead (MAINT in HAProxy)
  -P, --service-port N      one port of the service (file SERVICE:N)
  -H, --service-host HOST   one port of a remote target (file SERVICE:HOST:N; needs -P)
  -p, --port N              the daemon's port, for list and for status with a fleet (default 3333)
      --clear               weight: remove the weight instead of setting one
      --fleet               up, down, weight: every host, through etcd (endpoints from -c);
                            status, status_downed: show fleet entries beside local ones
      --fleet-host HOST     up, down, weight: that one host, through etcd
      --force               down: go past a disruption budget (recorded as forced); needed
                            for hadown --fleet on a budgeted service and for --fleet all
  -h, --help                this help

Exit codes: 0 ok; 1 a service is down (status), a nonhuman without -r, or a spool or daemon
error; 2 usage error; 3 refused by a disruption budget (nothing written). hastatus --fleet
[SERVICE] prints what every host publishes (one line per host, or one summary per service). status and status_downed print <name>:<host>:<port> for a per-port file
(host empty when absent: web::8080 for the file web:8080), as the reference tools do.`

/** Seconds per unit of a relative expiration. */
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 }

/** Ten years: a relative expiration beyond this is a typo, not a plan. */
const MAX_RELATIVE_SECONDS = 10 * 365 * 86400

/**
 * The `-e` value as unix seconds: a unix timestamp, or `+N<unit>` from now (`+30m`, `+2h`,
 * `+1d`, `+90s`; N may have decimals).
 *
 * @param now - unix seconds.
 * @throws HC_ERR_USAGE for anything else, a relative time of zero or over ten years, or a
 *   time that is not in the future (a past expiry would leave the service up, silently;
 *   `-5m` says so and suggests `+5m`).
 */
export function parseExpiration (value: string, now: number): number {
  const relative = /^\+([0-9]+(?:\.[0-9]+)?)([smhd])$/.exec(value.trim())
  if (/^-[0-9]+(?:\.[0-9]+)?[smhd]$/.test(value.trim())) {
    throw new HC_ERR_USAGE(`--expiration ${value.trim()} is in the past: the service would stay up; a duration counts from now, so write +${value.trim().slice(1)}`)
  }
  let at: number
  if (relative !== null) {
    const seconds = Number(relative[1]) * (UNIT_SECONDS[relative[2] as string] as number)
    if (seconds <= 0 || seconds > MAX_RELATIVE_SECONDS) {
      throw new HC_ERR_USAGE(`--expiration ${value} must be more than 0 and at most 10 years from now`)
    }
    at = now + seconds
  } else {
    at = Number(value)
    // A leading + means a duration, which needs its unit: "+30" could be minutes or seconds.
    if (value.trim() === '' || value.trim().startsWith('+') || !Number.isFinite(at)) {
      throw new HC_ERR_USAGE(`--expiration must be unix seconds or +N with s, m, h or d (+30m, +2h, +1d), got ${JSON.stringify(value)}`)
    }
  }
  if (at <= now) {
    const when = at >= -8.64e12 && at <= 8.64e12 ? new Date(at * 1000).toISOString() : 'out of range'
    throw new HC_ERR_USAGE(`--expiration ${value} (${when}) is in the past: the service would stay up; use a future time such as +30m`)
  }
  return at
}

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
 * The spool tools' flag table (`node:util` `parseArgs` options); every flag is documented in
 * docs/man/hadown.md, which a test checks.
 */
export function toolFlags (defaultAction: Action) {
  return {
    'config-file': { type: 'string', short: 'c' },
    'spool-root': { type: 'string' },
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
    fleet: { type: 'boolean', default: false },
    'fleet-host': { type: 'string' },
    force: { type: 'boolean', default: false }
  } satisfies FlagTable
}

/**
 * Parses tool arguments.
 *
 * @param defaultAction - the action of the name the tool was called by.
 * @param now - unix seconds, for `-e`.
 * @throws HC_ERR_USAGE on an unknown flag or action, a bad number, an expiration that is not
 *   in the future, `-H` without `-P`, a missing service name for up/down/status/weight, or
 *   service names given to status_downed/list (as the reference: "Unexpected args").
 */
export function parseToolArgs (argv: readonly string[], defaultAction: Action, now: number = Date.now() / 1000): ToolArgs {
  const parsed = parseFlags(argv, toolFlags(defaultAction), true)
  const v = parsed.values
  if (!(ACTIONS as readonly string[]).includes(v.action)) {
    throw new HC_ERR_USAGE(`action must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(v.action)}`)
  }
  const action = v.action as Action
  const args: ToolArgs = {
    action,
    services: parsed.positionals,
    spoolRoot: v['spool-root'],
    configFile: v['config-file'],
    reason: v.reason,
    servicePort: numberArg('--service-port', v['service-port'], isPort, 'a port 0-65535'),
    serviceHost: v['service-host'],
    daemonPort: numberArg('--port', v.port, (n) => isPort(n) && n > 0, 'a port 1-65535') ?? 3333,
    help: v.help,
    state: v.drain ? 'drain' : v.maint ? 'maint' : 'down',
    clear: v.clear,
    fleet: v.fleet,
    fleetHost: v['fleet-host'],
    force: v.force
  }
  if (args.help) return args
  // The reference ignores -e for the other actions; so do we.
  if (v.expiration !== undefined && action === 'down') args.expiration = parseExpiration(v.expiration, now)
  const reasonBad = args.reason === undefined ? undefined : reasonProblem(args.reason, '--reason')
  if (reasonBad !== undefined) throw new HC_ERR_USAGE(reasonBad)
  if (v.drain && v.maint) throw new HC_ERR_USAGE('--drain and --maint exclude each other')
  if ((v.drain || v.maint) && action !== 'down') throw new HC_ERR_USAGE(`--${args.state} only applies to down`)
  if (v.clear && action !== 'weight') throw new HC_ERR_USAGE('--clear only applies to weight')
  if (v.force && action !== 'down') throw new HC_ERR_USAGE('--force only applies to down')
  checkFleetArgs(args)
  if (action === 'weight' && !v.clear) args.weight = weightArg(args.services.pop())
  if (args.serviceHost !== undefined && args.servicePort === undefined) {
    throw new HC_ERR_USAGE('--service-host requires --service-port')
  }
  const fleetOverview = action === 'status' && args.fleet
  if ((action === 'up' || action === 'down' || (action === 'status' && !fleetOverview) || action === 'weight') && args.services.length === 0) {
    throw new HC_ERR_USAGE(`${action} needs at least one service name`)
  }
  if ((action === 'status_downed' || action === 'list') && args.services.length > 0) {
    throw new HC_ERR_USAGE(`${action} takes no service names, got ${args.services.map((s) => JSON.stringify(s)).join(' ')}`)
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
