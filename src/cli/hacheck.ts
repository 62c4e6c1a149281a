/**
 * The `hacheck` server command (docs/tools.md "Server command"):
 * `hacheck [-c FILE] [-p PORT]... [-B ADDR] [-n NUM] [--spool-root DIR] [-v]`.
 *
 * Folder cli/ (this is its main file): the commands behind `bin/`: parse arguments, call the
 * server (`http/`) or the spool module, print, set the exit code. The top of the import
 * order: may import any folder; nothing imports it. The spool tools (`haupdown.ts`) import no
 * Fastify, so they start fast.
 */
import cluster from 'node:cluster'
import { resolve } from 'node:path'
import type { CheckerRegistry } from '../checkers/index.js'
import type { AnswerListener } from '../checks/health.js'
import { loadConfig, type Config, type LoadedConfig } from '../config/index.js'
import type { RunningServer } from '../http/server.js'
import { Primary } from '../ops/cluster.js'
import { notifyReady, shareRegistry, workerMetrics, workerSlot } from '../ops/cluster-worker.js'
import { boundHeapGrowth } from '../ops/heap.js'
import { installGracefulStop } from '../ops/lifecycle.js'
import { createLogger, type HacheckLogger } from '../ops/logger.js'
import { raiseNofileLimit, readNofileLimit } from '../ops/rlimit.js'
import { takeListenFds, workerListenFds, WORKER_SOCKETS_ENV, type ActivatedSockets } from '../ops/socket-activation.js'
import type { FleetWatcher } from '../fleet/watcher.js'
import type { StatusPublisher } from '../fleet/publisher.js'
import { Spool } from '../spool/spool.js'
import { VERSION } from '../version.js'
import { checkConfigCommand, validateConfig } from './check-config.js'
import { checkListenAddresses, type ListenAddress } from './listen-check.js'
import { reportEarlyFailure, reportStartFailure, type FailureLog } from './start-failure.js'
import { HELP, USAGE, parseServerArgs, type ServerArgs } from './server-args.js'
import { CONFIG_ENV, resolveSpoolRoot, type Env } from './tool-config.js'

export { parseServerArgs, type ServerArgs } from './server-args.js'

/** What tests and embedders may inject into the server command. */
export interface CliDeps {
  /** The checker registry (tests add a deliberately slow protocol); the built-in one by default. */
  checkers?: CheckerRegistry
  /** The environment (`HACHECK_CONFIG`, `HACHECK_SPOOL_ROOT`); `process.env` by default. */
  env?: Env
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
 * Every address the server will bind itself: each `-p` port, and the agent port when set;
 * none of those whose socket systemd passed.
 */
function listenAddresses (args: ServerArgs, config: Config, activated: ActivatedSockets | undefined): ListenAddress[] {
  const addresses = activated === undefined ? args.ports.map((port) => ({ host: args.bindAddress, port })) : []
  const agentPort = args.agentPort ?? config.agent_port
  if (agentPort !== null && activated?.agent === undefined) addresses.push({ host: config.agent_bind ?? args.bindAddress, port: agentPort })
  return addresses
}

/**
 * SIGUSR2 in a single process (no `-n`): validates the config file and logs the outcome. The
 * new config is not applied in place: it takes effect at the next start, which is gapless with
 * socket activation (docs/operator-guide.md "Restarts and upgrades"); with `-n` the primary
 * replaces its workers instead.
 */
function reloadSingle (configFile: string | undefined, log: HacheckLogger, checkers: CheckerRegistry | undefined): void {
  validateConfig(configFile, checkers).then((result) => {
    if (!result.ok) log.logger.error(`reload refused, still serving with the previous config: ${result.message}`)
    else log.logger.warn({ config: result.loaded.source }, 'config valid; without -n it takes effect at the next restart (with socket activation a restart refuses no connection)')
  }, () => {})
}

/**
 * (ours) Starts the fleet watcher when `fleet_etcd_endpoints` is set, and waits (briefly, see
 * `FIRST_SYNC_WAIT_MS`) for its first read. The fleet module, and through it etcd3 and gRPC,
 * is loaded only then: a fleet-less hacheck pays nothing for it.
 *
 * @throws HC_ERR_CONFIG for an unreadable TLS file.
 */
async function startConfiguredFleet (config: Config, spoolRoot: string, log: HacheckLogger): Promise<FleetWatcher | undefined> {
  if (config.fleet === null) return undefined
  const { FleetWatcher, FIRST_SYNC_WAIT_MS } = await import('../fleet/watcher.js')
  const fleet = await FleetWatcher.start({ config, log: log.ops, spoolRoot })
  await fleet.firstSync(FIRST_SYNC_WAIT_MS)
  return fleet
}

/**
 * (ours) The publisher of this host's answers to `<prefix>status/`, when a fleet is set and
 * `fleet_publish` is on (docs/fleet.md "Fleet status"); with `-n`, only worker slot 1 has one.
 * `onAnswer` goes to the server before it listens, so no answer is missed; the health service
 * notes each answer in the book synchronously, and the publisher, once started, writes on its
 * own timer.
 */
async function preparePublisher (config: Config, spool: Spool, log: HacheckLogger): Promise<{ publisher: StatusPublisher, onAnswer: AnswerListener } | undefined> {
  if (config.fleet === null || !config.fleet_publish || (cluster.isWorker && workerSlot() !== 1)) return undefined
  const [{ AnswerBook, spoolRecordSource }, { StatusPublisher }] = await Promise.all([import('../fleet/answer-book.js'), import('../fleet/publisher.js')])
  // The book pokes the publisher, which does nothing before its start.
  const book = new AnswerBook({ onChange: () => { publisher.poke() } })
  const publisher = new StatusPublisher({ settings: config.fleet, ttlSeconds: config.fleet_status_ttl, records: spoolRecordSource(book, spool), log: log.ops, maxBackoffMs: config.fleet_reconnect_max_seconds * 1000 })
  return { publisher, onAnswer: (service, result) => { book.note(service, result) } }
}

/**
 * Runs the server command: returns once listening (or with an exit code on failure).
 * Exit codes: 0 ok, 1 start-up failure (spool root, log file, listen, rlimit_nofile), 2 usage
 * or config error. A failure prints one line (see `start-failure.ts`).
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
  const env = deps.env ?? process.env
  const configFile = args.configFile ?? (env[CONFIG_ENV] === '' ? undefined : env[CONFIG_ENV])
  if (args.checkConfig) return await checkConfigCommand(configFile, deps.checkers)

  let loaded: LoadedConfig
  let log: HacheckLogger
  let activated: ActivatedSockets | undefined
  try {
    // Read (and removed from the environment) first, whatever happens next: no child inherits them.
    activated = cluster.isPrimary ? takeListenFds() : workerListenFds()
    // Every key, agent check and group member is checked here, once: a bad one stops start-up
    // whether or not the part of hacheck that uses it is on.
    loaded = await loadConfig(configFile, { checkers: deps.checkers })
  } catch (err) {
    return await reportStartFailure(err)
  }
  try {
    // A failed start leaves nothing on disk: the addresses are tried before the log file and
    // the spool root are created (see listen-check.ts).
    if (cluster.isPrimary) await checkListenAddresses(listenAddresses(args, loaded.config, activated))
    log = createLogger({ logPath: loaded.config.log_path, verbose: args.verbose })
  } catch (err) {
    return await reportEarlyFailure(err, loaded.config.log_path, args.verbose)
  }
  const { config } = loaded
  const sink: FailureLog = { log, toFile: config.log_path !== 'stderr' && config.log_path !== 'stdout', verbose: args.verbose }
  // Absolute, so the start-up line says where the spool is whatever the working directory.
  const spoolRoot = resolve(resolveSpoolRoot(args.spoolRoot, env, loaded).root)
  const startup = { version: VERSION, bind: args.bindAddress, spoolRoot, config: loaded.source, socketActivation: activated !== undefined }
  const graceMs = config.shutdown_timeout * 1000

  if (cluster.isPrimary) {
    for (const warning of loaded.warnings) log.logger.warn(warning)
    try {
      await applyLimits(config, args.ports.length, log)
      // Checked here too, so a bad spool root or TLS file fails once with a clear message, not per worker.
      await Spool.open(spoolRoot)
      if (config.fleet !== null) await (await import('../fleet/watcher.js')).checkFleetFiles(config)
    } catch (err) {
      return await reportStartFailure(err, sink)
    }
    if (args.numProcs > 1) {
      const primary = new Primary({
        numProcs: args.numProcs,
        log,
        graceMs,
        startup: { ...startup, ports: activated === undefined ? args.ports : [] },
        checkConfig: async () => {
          const result = await validateConfig(configFile, deps.checkers)
          return result.ok ? undefined : result.message
        },
        workerEnv: activated === undefined ? undefined : { [WORKER_SOCKETS_ENV]: JSON.stringify(activated) }
      })
      const failure = await primary.start()
      return failure === undefined ? undefined : await reportStartFailure(failure, sink)
    }
  }

  let server: RunningServer | undefined
  let fleet: FleetWatcher | undefined
  let publisher: StatusPublisher | undefined
  // Before anything listens: a signal is handled from the first answer on.
  const stopping = installGracefulStop(async () => { await server?.close(); await publisher?.stop(); await fleet?.stop() }, {
    log,
    graceMs,
    onReload: cluster.isWorker
      ? () => { log.ops.info('SIGUSR2 ignored: a -n worker leaves reloads to its primary') }
      : () => { reloadSingle(configFile, log, deps.checkers) }
  })
  boundHeapGrowth() // see ops/heap.ts: bounded state, bounded heap
  const renderMetrics = cluster.isWorker ? workerMetrics() : undefined
  try {
    fleet = await startConfiguredFleet(config, spoolRoot, log)
    const spool = await Spool.open(spoolRoot, { log: log.ops, fleet: fleet?.view })
    const publishing = await preparePublisher(config, spool, log)
    publisher = publishing?.publisher
    // Loaded here, not at the top: a -n primary never serves, and starts its workers sooner
    // without Fastify (bench/RESULTS.md "Start-up").
    const { startServer } = await import('../http/server.js')
    server = await startServer({
      config,
      spool,
      ports: args.ports,
      bindAddress: args.bindAddress,
      logger: log.logger,
      opsLogger: log.ops,
      agentPort: args.agentPort,
      activated,
      checkers: deps.checkers,
      // A worker's /metrics answers for the whole cluster.
      renderMetrics,
      onAnswer: publishing?.onAnswer
    })
    // Reads the fleet TLS files: an unreadable one fails start-up (HC_ERR_CONFIG).
    await publisher?.start()
  } catch (err) {
    stopping.uninstall()
    await server?.close()
    await fleet?.stop()
    return await reportStartFailure(err, sink)
  }
  const ports = server.addresses.map((a) => a.port)
  if (cluster.isWorker) {
    shareRegistry(server.runtime.metrics.registry)
    notifyReady(ports)
    log.ops.debug({ ports, slot: workerSlot() }, 'worker listening')
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
