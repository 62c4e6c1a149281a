/**
 * The server's command line (docs/tools.md "Server command"), parsed into {@link ServerArgs}. Pure: reads
 * no file and imports no Fastify, so the container health check can parse PID 1's arguments
 * cheaply.
 */
import { HC_ERR_USAGE } from '../errors.js'
import { DEFAULT_SPOOL_ROOT } from '../spool/format.js'
import { parseFlags, type FlagTable } from './flags.js'

/** The usage line. */
export const USAGE = 'usage: hacheck [-c FILE] [-p PORT]... [-B ADDR] [-n NUM] [--spool-root DIR] [--agent-port PORT] [-v] [--check-config] [--version]'

/** `--help`. */
export const HELP = `${USAGE}

Healthcheck proxy: answers GET /<protocol>/<service>/<port>/<query> from the spool, then the service.

  -c, --config-file FILE   YAML config (default: $HACHECK_CONFIG, else built-in defaults)
  -p, --port PORT          port to listen on; repeatable (default 3333)
  -B, --bind-address ADDR  address to listen on, IPv4 or IPv6 (default 0.0.0.0)
  -n, --num-procs NUM      worker processes sharing the ports (default 1)
      --spool-root DIR     spool directory (default: $HACHECK_SPOOL_ROOT, else config spool_root,
                           else ${DEFAULT_SPOOL_ROOT})
      --agent-port PORT    serve HAProxy agent-check on this port (default: config agent_port, else off)
  -v, --verbose            debug logging, one line per request
      --check-config       validate the config file and exit: 0 if it would start, else 2 and the error
  -h, --help               this help
      --version            print the version`

/** The server's flag table (`node:util` `parseArgs` options); every flag is documented in docs/man/hacheck.md, which a test checks. */
export const SERVER_FLAGS = {
  'config-file': { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p', multiple: true },
  'bind-address': { type: 'string', short: 'B', default: '0.0.0.0' },
  'num-procs': { type: 'string', short: 'n', default: '1' },
  'spool-root': { type: 'string' },
  'agent-port': { type: 'string' },
  verbose: { type: 'boolean', short: 'v', default: false },
  'check-config': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false }
} satisfies FlagTable

/** Parsed server command line. */
export interface ServerArgs {
  configFile?: string
  ports: number[]
  bindAddress: string
  numProcs: number
  spoolRoot?: string
  /** (ours) `--agent-port`: overrides config `agent_port`. */
  agentPort?: number
  verbose: boolean
  /** (ours) `--check-config`: validate the config file and exit. */
  checkConfig: boolean
  help: boolean
  version: boolean
}

function intArg (name: string, value: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new HC_ERR_USAGE(`${name} must be an integer ${min}-${max}, got ${JSON.stringify(value)}`)
  }
  return Number(value)
}

/**
 * Parses the server's arguments.
 *
 * @throws HC_ERR_USAGE on an unknown flag, a missing value or a bad number.
 */
export function parseServerArgs (argv: readonly string[]): ServerArgs {
  const parsed = parseFlags(argv, SERVER_FLAGS, false)
  const v = parsed.values
  return {
    configFile: v['config-file'],
    ports: (v.port ?? ['3333']).map((p) => intArg('--port', p, 0, 65535)),
    bindAddress: v['bind-address'],
    numProcs: intArg('--num-procs', v['num-procs'], 1, 1024),
    spoolRoot: v['spool-root'],
    agentPort: v['agent-port'] === undefined ? undefined : intArg('--agent-port', v['agent-port'], 0, 65535),
    verbose: v.verbose,
    checkConfig: v['check-config'],
    help: v.help,
    version: v.version
  }
}
