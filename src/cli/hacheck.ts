/**
 * The `hacheck` server command (CONTRACT section 1):
 * `hacheck [-c FILE] [-p PORT]... [-B ADDR] [-n NUM] [--spool-root DIR] [-v]`.
 */
import { parseArgs } from 'node:util'
import { loadConfig } from '../config.js'
import { hasCode, HC_ERR_USAGE } from '../errors.js'
import { createLogger } from '../logger.js'
import { startServer } from '../server.js'
import { DEFAULT_SPOOL_ROOT, Spool } from '../spool.js'
import { VERSION } from '../version.js'

const USAGE = 'usage: hacheck [-c FILE] [-p PORT]... [-B ADDR] [-n NUM] [--spool-root DIR] [--agent-port PORT] [-v] [--version]'

const HELP = `${USAGE}

Healthcheck proxy: answers GET /<protocol>/<service>/<port>/<query> from the spool, then the service.

  -c, --config-file FILE   YAML config (default: built-in defaults)
  -p, --port PORT          port to listen on; repeatable (default 3333)
  -B, --bind-address ADDR  address to listen on, IPv4 or IPv6 (default 0.0.0.0)
  -n, --num-procs NUM      worker processes sharing the ports (default 1)
      --spool-root DIR     spool directory (default: config spool_root, else ${DEFAULT_SPOOL_ROOT})
      --agent-port PORT    serve HAProxy agent-check on this port (default: config agent_port, else off)
  -v, --verbose            debug logging, one line per request
  -h, --help               this help
      --version            print the version`

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
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'config-file': { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p', multiple: true },
        'bind-address': { type: 'string', short: 'B', default: '0.0.0.0' },
        'num-procs': { type: 'string', short: 'n', default: '1' },
        'spool-root': { type: 'string' },
        'agent-port': { type: 'string' },
        verbose: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false }
      }
    })
  } catch (err) {
    throw new HC_ERR_USAGE((err as Error).message)
  }
  const v = parsed.values
  return {
    configFile: v['config-file'],
    ports: (v.port ?? ['3333']).map((p) => intArg('--port', p, 0, 65535)),
    bindAddress: v['bind-address'],
    numProcs: intArg('--num-procs', v['num-procs'], 1, 1024),
    spoolRoot: v['spool-root'],
    agentPort: v['agent-port'] === undefined ? undefined : intArg('--agent-port', v['agent-port'], 0, 65535),
    verbose: v.verbose,
    help: v.help,
    version: v.version
  }
}

/**
 * Runs the server command: returns once listening (or with an exit code on failure).
 * Exit codes: 0 ok, 1 start-up failure (spool root, listen), 2 usage or config error.
 */
export async function main (argv: readonly string[]): Promise<number | undefined> {
  let args: ServerArgs
  try {
    args = parseServerArgs(argv)
  } catch (err) {
    process.stderr.write(`hacheck: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (args.help) { process.stdout.write(`${HELP}\n`); return 0 }
  if (args.version) { process.stdout.write(`hacheck ${VERSION}\n`); return 0 }

  let loaded
  try {
    loaded = await loadConfig(args.configFile)
  } catch (err) {
    process.stderr.write(`hacheck: ${(err as Error).message}\n`)
    return hasCode(err, 'HC_ERR_CONFIG') ? 2 : 1
  }
  const { config } = loaded
  const log = createLogger({ logPath: config.log_path, verbose: args.verbose })
  for (const warning of loaded.warnings) log.logger.warn(warning)

  const spoolRoot = args.spoolRoot ?? config.spool_root ?? DEFAULT_SPOOL_ROOT
  let server
  try {
    const spool = await Spool.open(spoolRoot)
    server = await startServer({ config, spool, ports: args.ports, bindAddress: args.bindAddress, logger: log.logger, agentPort: args.agentPort })
  } catch (err) {
    process.stderr.write(`hacheck: ${(err as Error).message}\n`)
    log.logger.fatal({ err }, 'start-up failed')
    log.flush()
    return hasCode(err, 'HC_ERR_CONFIG') ? 2 : 1
  }
  log.logger.info({ version: VERSION, ports: server.addresses.map((a) => a.port), agentPort: server.agent?.address.port, bind: args.bindAddress, spoolRoot, config: loaded.source }, 'hacheck started')

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.logger.info({ signal }, 'stopping')
    server.close().then(() => { log.flush(); process.exit(0) }, (err: unknown) => {
      log.logger.error({ err }, 'error while stopping')
      log.flush()
      process.exit(1)
    })
  }
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(signal, () => { stop(signal) })
  process.on('SIGHUP', () => { log.reopen() })
  return undefined
}

/** Entry point for `bin/hacheck`. */
export function run (): void {
  main(process.argv.slice(2)).then((code) => { if (code !== undefined) process.exitCode = code }, (err: unknown) => {
    process.stderr.write(`hacheck: ${String(err)}\n`)
    process.exitCode = 1
  })
}
