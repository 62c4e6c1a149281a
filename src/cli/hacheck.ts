/**
 * The `hacheck` server command (CONTRACT section 1):
 * `hacheck [-c FILE] [-p PORT]... [-B ADDR] [-n NUM] [--spool-root DIR] [-v]`.
 *
 * Folder cli/ (this is its main file): the commands behind `bin/`: parse arguments, call the
 * server (`http/`) or the spool module, print, set the exit code. The top of the import
 * order: may import any folder; nothing imports it. The spool tools (`haupdown.ts`) import no
 * Fastify, so they start fast.
 */
import cluster from 'node:cluster'
import { parseArgs } from 'node:util'
import type { CheckerRegistry } from '../checkers/index.js'
import { parseGroups } from '../checks/group-members.js'
import { loadConfig, type Config } from '../config/index.js'
import { hasCode, HC_ERR_USAGE } from '../errors.js'
import { startServer, type RunningServer } from '../http/server.js'
import { notifyReady, runPrimary, shareRegistry, workerMetrics } from '../ops/cluster.js'
import { installGracefulStop } from '../ops/lifecycle.js'
import { createLogger, type HacheckLogger } from '../ops/logger.js'
import { raiseNofileLimit, readNofileLimit } from '../ops/rlimit.js'
import type { Fleet } from '../spool/fleet.js'
import { DEFAULT_SPOOL_ROOT, Spool } from '../spool/spool.js'
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

/** What tests and embedders may inject into the server command. */
export interface CliDeps {
  /** The checker registry (tests add a deliberately slow protocol); the built-in one by default. */
  checkers?: CheckerRegistry
}

/**
 * Applies `rlimit_nofile` and warns when `max_connections` cannot be reached under the
 * open-files limit.
 *
 * @throws HC_ERR_RLIMIT when the limit cannot be raised.
 */
async function applyLimits (config: Config, ports: number, log: HacheckLogger): Promise<void> {
  if (config.rlimit_nofile !== null) {
    const { before, after } = await raiseNofileLimit(config.rlimit_nofile)
    log.ops.info({ before: before.soft, after: after.soft, hard: after.hard }, 'open-files limit')
  }
  if (process.platform !== 'linux') return
  const { soft } = await readNofileLimit().catch(() => ({ soft: Infinity }))
  const wanted = config.max_connections * ports + 64
  if (soft < wanted) {
    log.logger.warn({ max_connections: config.max_connections, ports, nofile_soft_limit: soft },
      'the open-files limit is below max_connections per port (plus spare); raise rlimit_nofile (or LimitNOFILE) or lower max_connections')
  }
}

/**
 * (ours) Starts the fleet watcher when `fleet_etcd_endpoints` is set, and waits (briefly, see
 * `FIRST_SYNC_WAIT_MS`) for its first read. The fleet module, and through it etcd3 and gRPC,
 * is loaded only then: a fleet-less hacheck pays nothing for it.
 *
 * @throws HC_ERR_CONFIG for fleet keys that do not fit together or an unreadable TLS file.
 */
async function startConfiguredFleet (config: Config, spoolRoot: string, log: HacheckLogger): Promise<Fleet | undefined> {
  if (config.fleet_etcd_endpoints === null) return undefined
  const { startFleet, FIRST_SYNC_WAIT_MS } = await import('../spool/fleet.js')
  const fleet = await startFleet({ config, log: log.ops, spoolRoot })
  await fleet.firstSync(FIRST_SYNC_WAIT_MS)
  return fleet
}

/**
 * Runs the server command: returns once listening (or with an exit code on failure).
 * Exit codes: 0 ok, 1 start-up failure (spool root, listen, rlimit_nofile), 2 usage or config error.
 */
export async function main (argv: readonly string[], deps: CliDeps = {}): Promise<number | undefined> {
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
  const fail = (err: unknown): number => {
    process.stderr.write(`hacheck: ${(err as Error).message}\n`)
    log.logger.fatal({ err }, 'start-up failed')
    log.close()
    log.flush()
    return hasCode(err, 'HC_ERR_CONFIG') ? 2 : 1
  }
  const spoolRoot = args.spoolRoot ?? config.spool_root ?? DEFAULT_SPOOL_ROOT
  const startup = { version: VERSION, bind: args.bindAddress, spoolRoot, config: loaded.source }
  const graceMs = config.shutdown_timeout * 1000

  if (cluster.isPrimary) {
    for (const warning of loaded.warnings) log.logger.warn(warning)
    try {
      await applyLimits(config, args.ports.length, log)
      // A group member that does not parse is a config error (exit 2), found once, not per worker.
      parseGroups(config, deps.checkers)
      // Checked here too, so a bad spool root fails once with a clear message, not per worker.
      await Spool.open(spoolRoot)
      if (config.fleet_etcd_endpoints !== null) await (await import('../spool/fleet.js')).checkFleetConfig(config)
    } catch (err) {
      return fail(err)
    }
    if (args.numProcs > 1) {
      return await runPrimary({ numProcs: args.numProcs, log, graceMs, startup: { ...startup, ports: args.ports } })
    }
  }

  let server: RunningServer
  let fleet: Fleet | undefined
  const renderMetrics = cluster.isWorker ? workerMetrics() : undefined
  try {
    fleet = await startConfiguredFleet(config, spoolRoot, log)
    const spool = await Spool.open(spoolRoot, { log: log.ops, fleet: fleet?.view })
    server = await startServer({
      config,
      spool,
      ports: args.ports,
      bindAddress: args.bindAddress,
      logger: log.logger,
      opsLogger: log.ops,
      agentPort: args.agentPort,
      checkers: deps.checkers,
      // A worker's /metrics answers for the whole cluster.
      renderMetrics
    })
  } catch (err) {
    await fleet?.close()
    return fail(err)
  }
  const close = fleet === undefined ? server.close : async () => { await server.close(); await fleet?.close() }
  installGracefulStop(close, { log, graceMs })
  const ports = server.addresses.map((a) => a.port)
  if (cluster.isWorker) {
    shareRegistry(server.runtime.metrics.registry)
    notifyReady(ports)
    log.ops.debug({ ports }, 'worker listening')
  } else {
    log.ops.info({ ...startup, ports, agentPort: server.agent?.address.port }, 'hacheck started')
  }
  return undefined
}

/** Entry point for `bin/hacheck`. */
export function run (deps: CliDeps = {}): void {
  main(process.argv.slice(2), deps).then((code) => {
    if (code === undefined) return
    process.exitCode = code
    // A worker's IPC channel would keep it alive: leave explicitly.
    if (cluster.isWorker) process.exit(code)
  }, (err: unknown) => {
    process.stderr.write(`hacheck: ${String(err)}\n`)
    process.exitCode = 1
    if (cluster.isWorker) process.exit(1)
  })
}
