/**
 * The process logger (pino) writing to `log_path`: `stdout`, `stderr` or a file. A file
 * destination can be reopened (SIGHUP) so logrotate's rename-then-signal works.
 */
import pino, { type Logger } from 'pino'

/** A logger plus the handles the server needs around it. */
export interface HacheckLogger {
  logger: Logger
  /** Reopens a file destination (no-op for stdout/stderr). */
  reopen: () => void
  /** Writes out anything buffered; call before exiting. */
  flush: () => void
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** `stdout`, `stderr` or a file path (created if absent, appended to). */
  logPath: string
  /** `-v`: debug level (one line per request); otherwise warnings and errors only. */
  verbose: boolean
}

/**
 * Builds the logger. Level is `warn` by default and `debug` with `-v`.
 *
 * @throws Error when a log file cannot be opened.
 */
export function createLogger (opts: LoggerOptions): HacheckLogger {
  const isFile = opts.logPath !== 'stdout' && opts.logPath !== 'stderr'
  const dest = pino.destination({
    dest: opts.logPath === 'stdout' ? 1 : opts.logPath === 'stderr' ? 2 : opts.logPath,
    sync: !isFile,
    mkdir: isFile
  })
  const logger = pino({ level: opts.verbose ? 'debug' : 'warn', base: { pid: process.pid } }, dest)
  return {
    logger,
    reopen: () => { if (isFile) dest.reopen() },
    flush: () => { try { dest.flushSync() } catch {} }
  }
}
