/**
 * The one way the commands read their flags: `node:util`'s `parseArgs` in strict mode, its
 * errors (an unknown flag, a missing value) turned into usage errors (exit 2). Pure.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { HC_ERR_USAGE } from '../errors.js'

/** The flag table of one command (`node:util` `parseArgs` options). */
export type FlagTable = NonNullable<ParseArgsConfig['options']>

/**
 * Parses `argv` against `options`, strictly: every flag must be in the table.
 *
 * @param positionals - whether arguments that are not flags are allowed (service names).
 * @returns `parseArgs`'s `{ values, positionals }`, typed by the table.
 * @throws HC_ERR_USAGE with `parseArgs`'s message on an unknown flag, a missing value or an
 *   unexpected positional argument.
 */
export function parseFlags<T extends FlagTable, P extends boolean> (argv: readonly string[], options: T, positionals: P) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: positionals, options })
  } catch (err) {
    throw new HC_ERR_USAGE((err as Error).message)
  }
}
