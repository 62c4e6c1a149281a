/**
 * How the server command reports a start-up failure: one line on stderr, `hacheck: <why>`,
 * and the documented exit code (2 for a usage or config error, 1 for anything else: spool
 * root, log file, port, rlimit_nofile). No stack trace unless `-v`. With a log file, the
 * failure is also written there (a service manager may keep only the file). A `-n` worker
 * prints nothing: it hands its line to the primary, which prints it once.
 */
import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import { hasCode } from '../errors.js'
import { notifyFailed, type StartFailure } from '../ops/cluster-worker.js'
import { createLogger, type HacheckLogger } from '../ops/logger.js'
import { hostPort, listenReason } from './listen-check.js'

/** The exit code for a start-up error: 2 for usage and config errors, else 1. */
export function exitCodeOf (err: unknown): number {
  return hasCode(err, 'HC_ERR_CONFIG') || hasCode(err, 'HC_ERR_USAGE') ? 2 : 1
}

/**
 * The one-line reason of an error (a message spanning lines is joined). A listen error names
 * the address and what went wrong (`cannot listen on 127.0.0.1:3333: address already in use`).
 */
export function messageOf (err: unknown): string {
  const sys = err as NodeJS.ErrnoException & { address?: string, port?: number }
  if ((sys.syscall === 'listen' || sys.syscall === 'bind') && sys.code !== undefined && sys.port !== undefined) {
    return `cannot listen on ${hostPort(sys.address ?? '', sys.port)}: ${listenReason(err)}`
  }
  const text = err instanceof Error ? err.message : String(err)
  return text.replace(/\s*\n\s*/g, '; ')
}

/** Where a failure goes besides stderr; absent before the logger exists. */
export interface FailureLog {
  log: HacheckLogger
  /** `log_path` is a file (not stdout/stderr): write the failure there too. */
  toFile: boolean
  /** `-v`: log the error with its stack. */
  verbose: boolean
}

/**
 * Reports a start-up failure and returns the exit code. `failure` is an error, or a worker's
 * report relayed by the `-n` primary.
 */
export async function reportStartFailure (failure: unknown, sink?: FailureLog): Promise<number> {
  const relayed = isStartFailure(failure)
  const code = relayed ? failure.code : exitCodeOf(failure)
  const message = relayed ? failure.message : messageOf(failure)
  if (cluster.isWorker) {
    await notifyFailed({ code, message })
    return code
  }
  process.stderr.write(`hacheck: ${message}\n`)
  if (sink !== undefined) {
    if (sink.verbose && !relayed) sink.log.logger.fatal({ err: failure }, 'start-up failed')
    else if (sink.toFile) sink.log.logger.fatal(`start-up failed: ${message}`)
    sink.log.close()
    sink.log.flush()
  }
  return code
}

function isStartFailure (value: unknown): value is StartFailure {
  return !(value instanceof Error) && typeof value === 'object' && value !== null &&
    typeof (value as StartFailure).code === 'number' && typeof (value as StartFailure).message === 'string'
}

/**
 * Reports a failure found before anything was created on disk (a listening address that
 * cannot be used, a log file that cannot be opened): a log file that already exists gets the
 * line too, a missing one is not created for it.
 *
 * @param logPath - the config's `log_path` (`stderr`, `stdout` or a file).
 */
export async function reportEarlyFailure (failure: unknown, logPath: string, verbose: boolean): Promise<number> {
  const toFile = logPath !== 'stderr' && logPath !== 'stdout'
  if (toFile && !existsSync(logPath)) return await reportStartFailure(failure)
  let log: HacheckLogger
  try {
    log = createLogger({ logPath, verbose })
  } catch {
    return await reportStartFailure(failure)
  }
  return await reportStartFailure(failure, { log, toFile, verbose })
}
