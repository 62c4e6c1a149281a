/**
 * (ours) `habudget -c FILE SERVICE N|P%`: sets a service's disruption budget in etcd
 * (`<prefix>budget/<service>`, docs/fleet.md "Disruption budgets"); `--clear SERVICE`
 * removes it; `SERVICE` alone prints it. The endpoints and credentials come from the config
 * (`-c`, `$HACHECK_CONFIG`), never the command line. Exit 0 ok; 1 etcd error (nothing
 * written); 2 usage or config error.
 */
import { hostname, userInfo } from 'node:os'
import { hasCode, HC_ERR_ETCD, HC_ERR_USAGE } from '../errors.js'
import { parseBudgetText, type Budget } from '../fleet/budget.js'
import { etcdReason } from '../fleet/client.js'
import { FleetStore } from '../fleet/store.js'
import { parseSpoolFileName } from '../spool/format.js'
import { parseFlags, type FlagTable } from './flags.js'
import { loadToolConfig, type Env } from './tool-config.js'

/** The flag table; every flag is documented in docs/man/habudget.md, which a test checks. */
export const BUDGET_FLAGS = {
  'config-file': { type: 'string', short: 'c' },
  clear: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false }
} satisfies FlagTable

/** The usage line; `%s` is the program name. */
export const BUDGET_USAGE = 'usage: %s [-c FILE] SERVICE [N|P%] | --clear SERVICE'

/** Parsed arguments. */
export interface BudgetArgs {
  configFile?: string
  service: string
  /** Absent: print the budget (or, with `clear`, remove it). */
  budget?: Budget
  clear: boolean
  help: boolean
}

/**
 * Parses the arguments.
 *
 * @throws HC_ERR_USAGE for an unknown flag, a service name that is not one, a budget that is
 *   neither a count nor a percentage 0-100, or `--clear` with a budget.
 */
export function parseBudgetArgs (argv: readonly string[]): BudgetArgs {
  const { values: v, positionals } = parseFlags(argv, BUDGET_FLAGS, true)
  if (v.help) return { service: '', clear: false, help: true }
  const [service, text, ...rest] = positionals
  if (service === undefined || rest.length > 0) throw new HC_ERR_USAGE('needs SERVICE and at most one budget (N or P%)')
  const key = parseSpoolFileName(service)
  if (key === null || key.port !== undefined || service === 'all') throw new HC_ERR_USAGE(`SERVICE must be a service name, got ${JSON.stringify(service.slice(0, 64))}`)
  if (v.clear && text !== undefined) throw new HC_ERR_USAGE('--clear takes no budget')
  const args: BudgetArgs = { configFile: v['config-file'], service, clear: v.clear, help: false }
  if (text !== undefined) {
    const budget = parseBudgetText(text)
    if (budget === null) throw new HC_ERR_USAGE(`the budget must be a host count N or a percentage P% (0-100), got ${JSON.stringify(text.slice(0, 32))}`)
    args.budget = budget
  }
  return args
}

/** Runs the tool; resolves with the exit code. */
export async function main (prog: string, argv: readonly string[], io: { stdout: (t: string) => void, stderr: (t: string) => void, env: Env }): Promise<number> {
  const usage = BUDGET_USAGE.replace('%s', prog)
  let args: BudgetArgs
  try {
    args = parseBudgetArgs(argv)
  } catch (err) {
    io.stderr(`${prog}: ${(err as Error).message}\n${usage}\n`)
    return 2
  }
  if (args.help) { io.stdout(`${usage}\n`); return 0 }
  let store: FleetStore | undefined
  try {
    const { config } = await loadToolConfig(args, io.env, {})
    if (config.fleet === null) throw new HC_ERR_USAGE('needs a config with fleet_etcd_endpoints set (-c FILE or $HACHECK_CONFIG)')
    const settings = config.fleet
    store = await FleetStore.open(settings)
    try {
      if (args.clear) await store.clearBudget(args.service)
      else if (args.budget !== undefined) await store.setBudget(args.service, args.budget, `${io.env.SUDO_USER ?? userInfo().username}@${hostname()}`)
      else {
        const found = await store.budget(args.service)
        io.stdout(found === null
          ? `${args.service}\tnone\n`
          : `${args.service}\t${'count' in found.budget ? found.budget.count : `${found.budget.percent}%`}${found.problem === null ? '' : `\t${found.problem}`}\n`)
      }
    } catch (err) {
      throw new HC_ERR_ETCD(settings.endpoints.join(', '), etcdReason(err))
    }
    return 0
  } catch (err) {
    const usageError = hasCode(err, 'HC_ERR_USAGE')
    io.stderr(`${prog}: ${(err as Error).message}\n${usageError ? `${usage}\n` : ''}`)
    return usageError || hasCode(err, 'HC_ERR_CONFIG') ? 2 : 1
  } finally {
    store?.close()
  }
}

/** Entry point for `bin/habudget`. */
export function run (prog: string): void {
  const io = { stdout: (text: string) => { process.stdout.write(text) }, stderr: (text: string) => { process.stderr.write(text) }, env: process.env }
  main(prog, process.argv.slice(2), io).then((code) => { process.exitCode = code }, (err: unknown) => {
    process.stderr.write(`${prog}: ${String(err)}\n`)
    process.exitCode = 1
  })
}
