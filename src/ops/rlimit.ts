/**
 * `rlimit_nofile` (docs/configuration.md): raise the open-files soft limit at start, as the
 * reference does with `resource.setrlimit`. Node has no setrlimit, so on Linux this runs
 * `prlimit --pid <own pid> --nofile=SOFT:HARD` (util-linux) and reads the result back from
 * `/proc/self/limits`. Any failure stops start-up with a message saying why: the setting is
 * never silently ignored. Workers forked afterwards (`-n`) inherit the raised limit.
 *
 * Imports no Fastify.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { HC_ERR_RLIMIT } from '../errors.js'

/** An open-files limit pair; `Infinity` stands for `unlimited`. */
export interface NofileLimit {
  soft: number
  hard: number
}

/** Options for {@link raiseNofileLimit}; the defaults are this process on this machine. */
export interface RlimitOptions {
  pid?: number
  /** The prlimit program; `prlimit` from PATH by default. */
  prlimit?: string
  platform?: NodeJS.Platform
}

const limitValue = (text: string): number => (text === 'unlimited' ? Infinity : Number(text))

/** Reads `Max open files` from the text of `/proc/<pid>/limits`; `null` when absent. */
export function parseProcLimits (text: string): NofileLimit | null {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+files/m.exec(text)
  if (match === null) return null
  return { soft: limitValue(match[1] ?? ''), hard: limitValue(match[2] ?? '') }
}

/**
 * The open-files limits of a process (Linux).
 *
 * @throws HC_ERR_RLIMIT when `/proc/<pid>/limits` cannot be read or parsed.
 */
export async function readNofileLimit (pid: number = process.pid): Promise<NofileLimit> {
  let text: string
  try {
    text = await readFile(`/proc/${pid}/limits`, 'utf8')
  } catch (err) {
    throw new HC_ERR_RLIMIT(`cannot read the open-files limit from /proc/${pid}/limits: ${(err as Error).message}`)
  }
  const limit = parseProcLimits(text)
  if (limit === null) throw new HC_ERR_RLIMIT(`no "Max open files" line in /proc/${pid}/limits`)
  return limit
}

const show = (n: number): string => (n === Infinity ? 'unlimited' : String(n))

async function run (program: string, args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(program, args, { timeout: 5000 }, (err, _stdout, stderr) => {
      if (err === null) { resolve(); return }
      const code = (err as NodeJS.ErrnoException).code
      reject(code === 'ENOENT'
        ? new HC_ERR_RLIMIT(`rlimit_nofile needs the prlimit program (util-linux), which was not found as ${program}`)
        : new HC_ERR_RLIMIT(stderr.trim() !== '' ? stderr.trim() : err.message))
    })
  })
}

/**
 * Raises the open-files soft limit to `setting` (`max`: to the hard limit). A soft limit
 * already at or above it is left alone. A number above the hard limit raises the hard limit
 * too, which needs CAP_SYS_RESOURCE (root); otherwise it fails.
 *
 * @returns the limits before and after.
 * @throws HC_ERR_RLIMIT, naming the wanted and current limits and the reason, when the
 *   platform is not Linux, prlimit is missing or refuses, or the limit did not take effect.
 */
export async function raiseNofileLimit (setting: number | 'max', opts: RlimitOptions = {}): Promise<{ before: NofileLimit, after: NofileLimit }> {
  const platform = opts.platform ?? process.platform
  if (platform !== 'linux') {
    throw new HC_ERR_RLIMIT(`rlimit_nofile is only supported on Linux (this is ${platform}); raise the limit before starting hacheck and remove the key`)
  }
  const pid = opts.pid ?? process.pid
  const before = await readNofileLimit(pid)
  const target = setting === 'max' ? before.hard : setting
  if (target <= before.soft) return { before, after: before }
  const hard = Math.max(before.hard, target)
  try {
    await run(opts.prlimit ?? 'prlimit', ['--pid', String(pid), `--nofile=${show(target)}:${show(hard)}`])
  } catch (err) {
    throw new HC_ERR_RLIMIT(`cannot raise the open-files limit to ${show(target)} (soft ${show(before.soft)}, hard ${show(before.hard)}): ${(err as Error).message}`)
  }
  const after = await readNofileLimit(pid)
  if (after.soft < target) {
    throw new HC_ERR_RLIMIT(`the open-files limit is still ${show(after.soft)} after asking for ${show(target)}`)
  }
  return { before, after }
}
