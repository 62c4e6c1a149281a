/**
 * (ours) `haactivate` / `hainactivate SERVICE... [-P PORT]`: create or remove http_status
 * presence files, as the http_status init functions `activate`/`inactivate` do (see
 * `spool/presence.ts`). `haactivate status.html` activates the host-level file asked for by
 * `/status` without SERVICE.
 *
 * The root is `--http-status-root`, else `http_status_root` from the config file the spool
 * tools read (`-c`, `$HACHECK_CONFIG`, a source checkout's `config/dev.yaml`: see
 * `tool-config.ts`), else `/var/run/http_status`. Silent on success; exit 0 ok, 1 a file could
 * not be written, 2 usage.
 */
import { HC_ERR_USAGE } from '../errors.js'
import { DEFAULT_HTTP_STATUS_ROOT, activatePresence, inactivatePresence, presenceFileName } from '../spool/presence.js'
import { loadToolConfig, type Env } from './tool-config.js'
import { parseFlags, type FlagTable } from './flags.js'

/** What the tool does. */
export type PresenceAction = 'activate' | 'inactivate'

/** Where the tool writes; injected by tests. */
export interface PresenceIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  /** The environment (`HACHECK_CONFIG`); `process.env` by default. */
  env?: Env
}

/** The flag table (`node:util` `parseArgs` options); every flag is documented in docs/man/haactivate.md, which a test checks. */
export const PRESENCE_FLAGS = {
  'config-file': { type: 'string', short: 'c' },
  'http-status-root': { type: 'string' },
  'service-port': { type: 'string', short: 'P' },
  help: { type: 'boolean', short: 'h', default: false }
} satisfies FlagTable

/** The usage line; `%s` is the program name. */
export const PRESENCE_USAGE = 'usage: %s [-c FILE] [--http-status-root DIR] [-P PORT] SERVICE...'

/** Parsed arguments. */
export interface PresenceArgs {
  /** Presence file names, validated. */
  files: string[]
  configFile?: string
  root?: string
  help: boolean
}

/**
 * Parses the arguments.
 *
 * @throws HC_ERR_USAGE on an unknown flag, a bad port or service name, or no service.
 */
export function parsePresenceArgs (argv: readonly string[]): PresenceArgs {
  const parsed = parseFlags(argv, PRESENCE_FLAGS, true)
  const v = parsed.values
  const args: PresenceArgs = { files: [], configFile: v['config-file'], root: v['http-status-root'], help: v.help }
  if (args.help) return args
  const portText = v['service-port']
  if (portText !== undefined && !/^[0-9]{1,5}$/.test(portText)) throw new HC_ERR_USAGE(`--service-port must be a port 1-65535, got ${JSON.stringify(portText)}`)
  if (parsed.positionals.length === 0) throw new HC_ERR_USAGE('needs at least one service name (status.html for the host)')
  try {
    args.files = parsed.positionals.map((service) => presenceFileName({ service, port: portText === undefined ? undefined : Number(portText) }))
  } catch (err) {
    throw new HC_ERR_USAGE((err as Error).message)
  }
  return args
}

/** The http_status root the arguments name. */
async function rootOf (args: PresenceArgs, env: Env): Promise<string> {
  if (args.root !== undefined) return args.root
  return (await loadToolConfig({ configFile: args.configFile }, env)).config.http_status_root ?? DEFAULT_HTTP_STATUS_ROOT
}

/** Runs the tool; resolves with the exit code. */
export async function main (prog: string, argv: readonly string[], action: PresenceAction, io: PresenceIO): Promise<number> {
  const usage = PRESENCE_USAGE.replace('%s', prog)
  let args: PresenceArgs
  try {
    args = parsePresenceArgs(argv)
  } catch (err) {
    io.stderr(`${prog}: ${(err as Error).message}\n${usage}\n`)
    return 2
  }
  if (args.help) { io.stdout(`${usage}\n`); return 0 }
  try {
    const root = await rootOf(args, io.env ?? process.env)
    for (const file of args.files) {
      if (action === 'activate') await activatePresence(root, file)
      else await inactivatePresence(root, file)
    }
    return 0
  } catch (err) {
    io.stderr(`${prog}: ${(err as Error).message}\n`)
    return 1
  }
}

/** Entry point for the `bin/` shims. */
export function run (prog: string, action: PresenceAction): void {
  const io: PresenceIO = {
    stdout: (text) => { process.stdout.write(text) },
    stderr: (text) => { process.stderr.write(text) }
  }
  main(prog, process.argv.slice(2), action, io).then((code) => { process.exitCode = code }, (err: unknown) => {
    process.stderr.write(`${prog}: ${String(err)}\n`)
    process.exitCode = 1
  })
}
