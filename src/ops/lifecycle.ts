/**
 * How a hacheck process stops and reopens its log: one code path for the single process and
 * for each `-n` worker, built on close-with-grace.
 *
 * - SIGTERM, SIGINT, SIGQUIT: stop accepting, let in-flight checks finish (they are answered
 *   normally: `return503OnClosing` is off, so a restart does not make every service on the
 *   host flap), then exit 0. If that takes longer than `shutdown_timeout`, exit 1.
 * - An uncaught exception or unhandled rejection: the same graceful stop, then exit 1.
 * - SIGHUP: reopen the log file (logrotate); never a stop.
 * - SIGUSR2: `onReload` (the single process validates the config file, see `cli/hacheck.ts`;
 *   a `-n` worker leaves reloads to its primary); never a stop.
 * - A worker whose primary went away (IPC disconnect): graceful stop.
 *
 * Folder ops/ (this is its main file): processes and observability, beside the checks rather
 * than in them: workers (`cluster.ts`), stopping and log reopening (here), open-file limits
 * (`rlimit.ts`), logging (`logger.ts`), Prometheus metrics (`metrics.ts`). May import
 * `config/` and the top-level leaves; reaches `checks/` and `spool/` by `import type` only.
 * Imports no Fastify.
 */
import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import type { HacheckLogger } from './logger.js'

/** Options for {@link installGracefulStop}. */
export interface GracefulStopOptions {
  log: HacheckLogger
  /** Bound on the whole stop, milliseconds (`shutdown_timeout`). */
  graceMs: number
  /** (ours) Called on SIGUSR2 (docs/operator-guide.md "Restarts and upgrades"); ignored when absent. */
  onReload?: () => void
}

/**
 * Installs the signal handlers. Install them before listening: a signal that arrives between
 * the first answer and its handler would otherwise take the default action (exit). `close`
 * must stop accepting and resolve once in-flight work is done (e.g. `RunningServer.close`;
 * nothing yet, when start-up is not done). Calls `process.exit` when done.
 *
 * @returns `stop()`, to start the same graceful stop from code; `uninstall()`, to remove the
 *   handlers (a start-up that failed and returns its exit code).
 */
export function installGracefulStop (close: () => Promise<void>, opts: GracefulStopOptions): { stop: () => void, uninstall: () => void } {
  const { log } = opts
  const handle = closeWithGrace({
    delay: opts.graceMs,
    skip: ['SIGHUP', 'SIGUSR2'],
    logger: { error: (message: unknown) => { log.logger.error(message instanceof Error ? { err: message } : { detail: message }, 'while stopping') } },
    onTimeout: (delay) => {
      log.logger.error({ delay_ms: delay }, 'in-flight requests did not finish within shutdown_timeout; exiting anyway')
      log.flush()
    },
    onSecondSignal: (signal) => {
      log.logger.warn({ signal }, 'second signal while stopping: exiting now')
      log.flush()
    }
  }, async ({ signal, err, manual }) => {
    if (err !== undefined) log.logger.fatal({ err }, 'uncaught error: stopping')
    log.ops.info({ signal: signal ?? (manual === true ? 'disconnect' : undefined) }, 'stopping: no new connections, finishing in-flight checks')
    await close()
    log.ops.info('stopped')
    log.close()
    log.flush()
  })
  const onHup = (): void => { if (log.reopen()) log.ops.info('log file reopened (SIGHUP)') }
  const onUsr2 = (): void => { opts.onReload?.() }
  const onDisconnect = (): void => { handle.close() }
  process.on('SIGHUP', onHup)
  process.on('SIGUSR2', onUsr2)
  if (cluster.isWorker) process.once('disconnect', onDisconnect)
  return {
    stop: () => { handle.close() },
    uninstall: () => {
      handle.uninstall()
      process.off('SIGHUP', onHup)
      process.off('SIGUSR2', onUsr2)
      process.off('disconnect', onDisconnect)
    }
  }
}
