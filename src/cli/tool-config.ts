/**
 * Where a command finds its config file and its spool root, so the spool tools and the server
 * agree without flags (ours; the reference tools know only `--spool-root`).
 *
 * Config file, first found: `-c FILE`; `$HACHECK_CONFIG`; for the spool tools run from a source
 * checkout (the package root holds `src/` and `config/dev.yaml`, neither of which is packed),
 * that checkout's `config/dev.yaml`, the file `npm start` serves with; else none (defaults).
 *
 * Spool root, first found: `--spool-root DIR`; `$HACHECK_SPOOL_ROOT`; the config's `spool_root`
 * (relative to the config file's directory); `/var/spool/hacheck`.
 *
 * Imports config/ and spool/ only (no http/, no Fastify): the tools start fast, and the fleet
 * tools reuse {@link loadToolConfig} for their own keys.
 */
import { existsSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig, type Config, type LoadedConfig } from '../config/index.js'
import { HC_ERR_CONFIG, hasCode } from '../errors.js'
import { DEFAULT_SPOOL_ROOT } from '../spool/spool.js'

/** Environment variable naming the config file when `-c` is not given. */
export const CONFIG_ENV = 'HACHECK_CONFIG'
/** Environment variable naming the spool root when `--spool-root` is not given; beats the config. */
export const SPOOL_ROOT_ENV = 'HACHECK_SPOOL_ROOT'
/** The development config of a source checkout, relative to its root (what `npm start` uses). */
export const CHECKOUT_CONFIG = join('config', 'dev.yaml')

/** The environment the resolution reads. */
export type Env = Readonly<Record<string, string | undefined>>

/** A resolved spool root. */
export interface SpoolRootChoice {
  /** The directory, absolute when it came from a config file. */
  root: string
  /** Where it came from, for messages: `--spool-root`, `HACHECK_SPOOL_ROOT`, `spool_root in <file>`, `the default`. */
  from: string
}

/**
 * The spool root by precedence: `flag`, `$HACHECK_SPOOL_ROOT`, the config's `spool_root`
 * (a relative path is taken from the config file's directory), the default.
 */
export function resolveSpoolRoot (flag: string | undefined, env: Env, loaded: LoadedConfig): SpoolRootChoice {
  if (flag !== undefined) return { root: flag, from: '--spool-root' }
  const fromEnv = env[SPOOL_ROOT_ENV]
  if (fromEnv !== undefined && fromEnv !== '') return { root: fromEnv, from: `$${SPOOL_ROOT_ENV}` }
  const configured = loaded.config.spool_root
  if (configured !== null) {
    const root = isAbsolute(configured) || loaded.source === 'defaults' ? configured : resolve(dirname(loaded.source), configured)
    return { root, from: `spool_root in ${loaded.source}` }
  }
  return { root: DEFAULT_SPOOL_ROOT, from: 'the default' }
}

/** The package root of this install: `dist/src/cli/` → `../../../`. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * The development config when the tools run from a source checkout, else `undefined`. A
 * packed or installed hacheck holds neither `src/` nor `config/dev.yaml`.
 */
export function checkoutConfig (packageRoot: string = PACKAGE_ROOT): string | undefined {
  const file = join(packageRoot, CHECKOUT_CONFIG)
  return existsSync(join(packageRoot, 'src')) && existsSync(file) ? file : undefined
}

/** The flags of a tool that {@link loadToolConfig} reads. */
export interface ToolConfigArgs {
  /** `-c, --config-file`. */
  configFile?: string | undefined
  /** `--spool-root`. */
  spoolRoot?: string | undefined
}

/** What a tool runs with. */
export interface ToolConfig {
  /** The validated, frozen config (defaults when no file applies). */
  config: Config
  /** Where it came from (a path, or `defaults`) and its warnings (unknown keys). */
  loaded: LoadedConfig
  spoolRoot: SpoolRootChoice
}

/**
 * Loads a tool's config and resolves its spool root (see the file comment for the order).
 *
 * @param opts.checkout - the checkout's development config, or null for none; found next to
 *   this install by default (tests pass their own).
 * @throws HC_ERR_CONFIG when the config file cannot be read or has a bad key.
 */
export async function loadToolConfig (args: ToolConfigArgs, env: Env, opts: { checkout?: string | null } = {}): Promise<ToolConfig> {
  const fromEnv = env[CONFIG_ENV] !== '' ? env[CONFIG_ENV] : undefined
  const checkout = opts.checkout === undefined ? checkoutConfig() : opts.checkout ?? undefined
  const file = args.configFile ?? fromEnv ?? checkout
  let loaded: LoadedConfig
  try {
    loaded = await loadConfig(file)
  } catch (err) {
    // Say where a file nobody typed came from (a config with credentials may be mode 0640).
    if (args.configFile !== undefined || !hasCode(err, 'HC_ERR_CONFIG')) throw err
    const from = file === fromEnv ? `$${CONFIG_ENV}` : 'the source checkout\'s development config'
    throw new HC_ERR_CONFIG(`${err.message} (from ${from})`)
  }
  return { config: loaded.config, loaded, spoolRoot: resolveSpoolRoot(args.spoolRoot, env, loaded) }
}
