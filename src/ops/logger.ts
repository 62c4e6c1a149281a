/**
 * The process logger (pino) writing to `log_path`: `stdout`, `stderr` or a file. A file
 * destination is reopened on SIGHUP (the server calls {@link HacheckLogger.reopen}) and also
 * when it is noticed renamed or removed (checked every second, as Python's WatchedFileHandler
 * in the reference does on each write), so logrotate works with or without a postrotate signal.
 *
 * Two levels: the main logger is `warn` (`debug` with `-v`); the {@link HacheckLogger.ops}
 * child is `info` (or `debug`) so that operational events are always written: start-up
 * (version, ports, spool root, config file), stop, worker restarts, log reopen, and remote
 * spool changes.
 */
import { closeSync, fstat, openSync, stat, type Stats } from 'node:fs'
import { dirname } from 'node:path'
import pino, { type Logger } from 'pino'
import { HC_ERR_LOG_FILE } from '../errors.js'

/** A logger plus the handles the server needs around it. */
export interface HacheckLogger {
  /** Warnings and errors; with `-v` also one line per request. */
  logger: Logger
  /** Operational events, written whatever `-v` says (level info). */
  ops: Logger
  /** Reopens a file destination now; false (and nothing done) for stdout/stderr. */
  reopen: () => boolean
  /** Writes out anything buffered; call before exiting. */
  flush: () => void
  /** Stops watching the file for rotation (lets the process exit on its own). */
  close: () => void
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** `stdout`, `stderr` or a file path (created if absent, appended to; its directory must exist). */
  logPath: string
  /** `-v`: debug level (one line per request); otherwise warnings and errors only. */
  verbose: boolean
  /** How often a log file is checked for rotation, milliseconds; default 1000, 0 = never. */
  watchIntervalMs?: number
}

const sameFile = (a: Stats, b: Stats): boolean => a.ino === b.ino && a.dev === b.dev

/**
 * Opens (creating if absent) and closes a log file, so a path that cannot be used stops
 * start-up with its reason instead of failing later inside the asynchronous destination. A
 * missing directory is an error, never created: a typo in `log_path` must not make directories
 * (as root, anywhere).
 *
 * @throws HC_ERR_LOG_FILE naming the file and the reason.
 */
function checkLogFile (path: string): void {
  try {
    closeSync(openSync(path, 'a', 0o640))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? `its directory ${dirname(path)} does not exist` : (err as Error).message
    throw new HC_ERR_LOG_FILE(path, why)
  }
}

/**
 * Builds the logger. Level is `warn` by default and `debug` with `-v`; {@link HacheckLogger.ops}
 * is at least `info`.
 *
 * @throws Error when a log file cannot be opened (its directory missing included).
 */
export function createLogger (opts: LoggerOptions): HacheckLogger {
  const isFile = opts.logPath !== 'stdout' && opts.logPath !== 'stderr'
  if (isFile) checkLogFile(opts.logPath)
  const dest = pino.destination({
    dest: opts.logPath === 'stdout' ? 1 : opts.logPath === 'stderr' ? 2 : opts.logPath,
    sync: !isFile,
    mkdir: false
  })
  // A log file that cannot be (re)opened must not take the health checks down with it.
  let lastError = ''
  dest.on('error', (err: Error) => {
    if (err.message !== lastError) process.stderr.write(`hacheck: log file ${opts.logPath}: ${err.message}\n`)
    lastError = err.message
  })
  const logger = pino({ level: opts.verbose ? 'debug' : 'warn', base: { pid: process.pid } }, dest)
  const ops = logger.child({}, { level: opts.verbose ? 'debug' : 'info' })
  const reopen = (): boolean => {
    if (isFile) dest.reopen()
    return isFile
  }

  let timer: NodeJS.Timeout | undefined
  const interval = opts.watchIntervalMs ?? 1000
  if (isFile && interval > 0) {
    let checking = false
    timer = setInterval(() => {
      if (checking) return
      checking = true
      // The path no longer names the file we hold open: it was rotated away (or removed).
      stat(opts.logPath, (pathErr, onDisk) => {
        // sonic-boom keeps the descriptor it writes to in `fd` (not in its typings).
        fstat((dest as unknown as { fd: number }).fd, (fdErr, open) => {
          checking = false
          if (fdErr !== null) return // mid-reopen; look again next time
          if (pathErr !== null || !sameFile(onDisk, open)) reopen()
        })
      })
    }, interval)
    timer.unref()
  }

  return {
    logger,
    ops,
    reopen,
    flush: () => { try { dest.flushSync() } catch {} },
    close: () => { clearInterval(timer) }
  }
}
