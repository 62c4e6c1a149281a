/**
 * `hacheck --check-config [-c FILE]` (docs/tools.md "Server command"): loads the config file as
 * start-up does and says whether it would start, as `haproxy -c` and `nginx -t` do. The
 * systemd unit runs it before a start (`ExecStartPre=`) and a reload (`ExecReload=`), and a
 * `-n` primary runs the same validation on SIGUSR2 before it replaces any worker.
 */
import type { CheckerRegistry } from '../checkers/index.js'
import { loadConfig, type LoadedConfig } from '../config/index.js'
import { exitCodeOf, messageOf } from './start-failure.js'

/** What a validation found: the loaded config, or the one-line error start-up would print and its exit code. */
export type ConfigCheck =
  | { ok: true, loaded: LoadedConfig }
  | { ok: false, message: string, code: number }

/**
 * Loads and validates `file` (undefined: the built-in defaults) exactly as start-up does.
 * Never throws.
 */
export async function validateConfig (file: string | undefined, checkers?: CheckerRegistry): Promise<ConfigCheck> {
  try {
    return { ok: true, loaded: await loadConfig(file, { checkers }) }
  } catch (err) {
    return { ok: false, message: messageOf(err), code: exitCodeOf(err) }
  }
}

/**
 * Runs `--check-config`: prints `hacheck: config FILE OK` (and each warning) and returns 0, or
 * prints start-up's one-line error and returns its exit code (2 for a config error).
 */
export async function checkConfigCommand (file: string | undefined, checkers?: CheckerRegistry): Promise<number> {
  const result = await validateConfig(file, checkers)
  if (!result.ok) {
    process.stderr.write(`hacheck: ${result.message}\n`)
    return result.code
  }
  for (const warning of result.loaded.warnings) process.stderr.write(`hacheck: warning: ${warning}\n`)
  process.stdout.write(`hacheck: config ${result.loaded.source} OK\n`)
  return 0
}
