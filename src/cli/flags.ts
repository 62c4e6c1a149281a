/**
 * The one way the commands read their flags: `node:util`'s `parseArgs` in strict mode, its
 * errors (an unknown flag, a missing value) turned into usage errors (exit 2) in hacheck's own
 * words, one line each. Pure.
 *
 * One difference from `parseArgs`: a flag that takes a value takes the next argument even when
 * it starts with `-`, unless that argument is itself one of the command's flags. So `-e -5m`
 * reaches the `-e` check (which says the time is in the past) instead of `parseArgs`'s
 * "argument is ambiguous", and `-r -e +5m` still says that `-r` has no value.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { HC_ERR_USAGE } from '../errors.js'

/** The flag table of one command (`node:util` `parseArgs` options). */
export type FlagTable = NonNullable<ParseArgsConfig['options']>

/** `-x` and `--name` spellings of the table's flags, with whether each takes a value. */
function spellings (options: FlagTable): Map<string, { name: string, takesValue: boolean }> {
  const out = new Map<string, { name: string, takesValue: boolean }>()
  for (const [name, option] of Object.entries(options)) {
    const entry = { name, takesValue: option.type === 'string' }
    out.set(`--${name}`, entry)
    if (option.short !== undefined) out.set(`-${option.short}`, entry)
  }
  return out
}

/** Whether `arg` is a flag of the table (`--name`, `--name=v`, `-x`, `-xVALUE`), or `--`. */
function isFlag (arg: string, known: ReadonlyMap<string, unknown>): boolean {
  if (arg === '--') return true
  if (arg.startsWith('--')) return known.has(arg.split('=', 1)[0] as string)
  return arg.length >= 2 && known.has(arg.slice(0, 2))
}

/**
 * `argv` with each value that starts with `-` attached to its flag (`--name=value`).
 *
 * @throws HC_ERR_USAGE for a flag whose value is missing because another flag follows it.
 */
function attachDashValues (argv: readonly string[], options: FlagTable): string[] {
  const known = spellings(options)
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--') { out.push(...argv.slice(i)); break }
    const flag = known.get(arg)
    const next = argv[i + 1]
    if (flag?.takesValue !== true || next === undefined || !next.startsWith('-') || next === '-') { out.push(arg); continue }
    if (isFlag(next, known)) throw new HC_ERR_USAGE(`${arg} needs a value, but the next argument is the flag ${next}`)
    out.push(`--${flag.name}=${next}`)
    i++
  }
  return out
}

/** `parseArgs`'s error in one line of our own words. */
function usageMessage (err: Error & { code?: string }): string {
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? ''
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${quoted} (--help lists the flags)`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted)}: this command takes flags only (--help lists them)`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `${quoted.split('=', 1)[0] ?? quoted} takes no value`
      return `${quoted.replace(/ <value>$/, '')} needs a value`
    default:
      return err.message.split('\n', 1)[0] ?? err.message
  }
}

/**
 * Parses `argv` against `options`, strictly: every flag must be in the table.
 *
 * @param positionals - whether arguments that are not flags are allowed (service names).
 * @returns `parseArgs`'s `{ values, positionals }`, typed by the table.
 * @throws HC_ERR_USAGE, one line, on an unknown flag, a missing value or an unexpected
 *   positional argument.
 */
export function parseFlags<T extends FlagTable, P extends boolean> (argv: readonly string[], options: T, positionals: P) {
  const args = attachDashValues(argv, options)
  try {
    return parseArgs({ args, strict: true, allowPositionals: positionals, options })
  } catch (err) {
    throw new HC_ERR_USAGE(usageMessage(err as Error))
  }
}
