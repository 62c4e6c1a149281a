/**
 * (ours) The `script` protocol: runs a command configured under `scripts` (never anything from
 * the URL: the service name only picks a configured entry), as gruntwork's health-checker
 * `--script` does. `/script/<name>/<port>/` runs `scripts.<name>`.
 *
 * Proves: the command exited 0 within its `timeout`. Does not prove anything the command does
 * not test.
 *
 * How it runs: an argv list is executed directly (no shell); a string is run with `/bin/sh -c`.
 * Environment: `PATH` (hacheck's), `HACHECK_SERVICE` (the name) and `HACHECK_PORT` (the
 * port) only; working directory `/`; stdin `/dev/null`. The command leads a process group of
 * its own (`detached`), so on timeout the whole group gets SIGTERM, then SIGKILL after
 * {@link KILL_GRACE_MS}: children it forked go too, even those that ignore SIGTERM. Stragglers
 * left behind by a command that exited are ended the same way. (A descendant that makes its own
 * session with setsid(2) leaves the group and cannot be reached this way.) At most
 * {@link MAX_OUTPUT_BYTES} of stdout and stderr, interleaved as they arrive, become the message;
 * the rest is read and dropped, so a chatty command never blocks on a full pipe.
 *
 * Starts are paced ({@link StartPacer}, `script_starts_per_second` a second): a check beyond
 * them waits for its start within its own timeout, and answers down when the wait is full.
 *
 * Statuses are HAProxy's for external checks: `PROCOK` (exit 0), `PROCERR` (another exit
 * code, a signal, or the command could not be started), `PROCTOUT` (timed out).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import type { Config } from '../config/index.js'
import { StartPacer } from './start-pacer.js'
import { describeError, seconds } from './status.js'
import { down, up, type Checker, type CheckOutcome, type CheckTarget } from './types.js'

/** Most bytes of output (stdout and stderr together) kept for the message. */
export const MAX_OUTPUT_BYTES = 4096

/** How long a process group has between SIGTERM and SIGKILL, milliseconds. */
export const KILL_GRACE_MS = 1000

/** How long after the command exits its output may still arrive, milliseconds. */
const DRAIN_AFTER_EXIT_MS = 200

/** How many seconds' worth of starts may wait for a grant before a start is refused. */
const WAITING_SECONDS = 5

/** One pacer per config (per server; tests build many), made on first use. */
const pacers = new WeakMap<Config, StartPacer>()

function pacerFor (config: Config): StartPacer {
  let pacer = pacers.get(config)
  if (pacer === undefined) {
    const perSecond = config.script_starts_per_second
    pacer = new StartPacer({ perSecond, maxWaiting: WAITING_SECONDS * perSecond })
    pacers.set(config, pacer)
  }
  return pacer
}

/** The configured entry for `name`, if any (own keys only). */
function scriptOf (config: Config, name: string): Config['scripts'][string] | undefined {
  return Object.hasOwn(config.scripts, name) ? config.scripts[name] : undefined
}

/** The script's `timeout` in milliseconds, else `healthcheck_timeout`. */
export function scriptTimeoutMs (target: CheckTarget, config: Config): number {
  return (scriptOf(config, target.service)?.timeout ?? config.healthcheck_timeout) * 1000
}

/** The argv a command runs as: a list as is, a string through `/bin/sh -c`. */
export function scriptArgv (command: string | readonly string[]): readonly string[] {
  return typeof command === 'string' ? ['/bin/sh', '-c', command] : command
}

/** Collects up to {@link MAX_OUTPUT_BYTES} of output; counts and drops the rest. */
class Output {
  private readonly chunks: Buffer[] = []
  private kept = 0
  dropped = 0

  add (chunk: Buffer): void {
    const room = MAX_OUTPUT_BYTES - this.kept
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk
      this.chunks.push(part)
      this.kept += part.length
    }
    this.dropped += Math.max(0, chunk.length - Math.max(room, 0))
  }

  /** `<summary>: <output>`, or the summary alone when there was no output. */
  describe (summary: string): string {
    const text = Buffer.concat(this.chunks).toString('utf8').trim()
    const note = this.dropped > 0 ? ` (output cut to its first ${MAX_OUTPUT_BYTES} bytes)` : ''
    return text === '' ? `${summary}${note}` : `${summary}${note}: ${text}`
  }
}

/** Sends `signal` to the process group led by `pid`; false when the group is gone. */
function signalGroup (pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false // ESRCH: nothing left in the group
  }
}

/**
 * Ends the process group led by `pid`: SIGTERM, then SIGKILL after {@link KILL_GRACE_MS}
 * unless the group is already empty. The timer keeps the process alive until then, so a
 * stopping hacheck still ends what it started.
 */
function endGroup (pid: number): void {
  if (!signalGroup(pid, 'SIGTERM')) return
  setTimeout(() => { signalGroup(pid, 'SIGKILL') }, KILL_GRACE_MS)
}

/** Runs one configured command to an outcome; never rejects. */
async function run (argv: readonly string[], target: CheckTarget, signal: AbortSignal, pacer: StartPacer): Promise<CheckOutcome> {
  const started = performance.now()
  const took = (): string => seconds(performance.now() - started)
  const output = new Output()
  const [file = '', ...args] = argv
  const start = await pacer.take(signal)
  if (start === 'aborted') return down(`timed out after ${took()}s waiting to start (script_starts_per_second)`, 'PROCTOUT')
  if (start === 'queue full') return down('not started: too many script starts waiting (script_starts_per_second)', 'PROCERR')
  let child: ChildProcess
  try {
    child = spawn(file, args, {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HACHECK_SERVICE: target.service, HACHECK_PORT: String(target.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
  } catch (err) {
    return down(`cannot run ${file}: ${describeError(err)}`, 'PROCERR')
  }
  const onData = (chunk: Buffer): void => { output.add(chunk) }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  return await new Promise<CheckOutcome>((resolve) => {
    let settled = false
    let exitTimer: NodeJS.Timeout | undefined
    const finish = (outcome: CheckOutcome): void => {
      if (settled) return
      settled = true
      clearTimeout(exitTimer)
      signal.removeEventListener('abort', onAbort)
      resolve(outcome)
    }
    const closeStreams = (): void => {
      child.stdout?.destroy()
      child.stderr?.destroy()
    }
    const onAbort = (): void => {
      const outcome = down(output.describe(`timed out after ${took()}s`), 'PROCTOUT')
      if (child.pid !== undefined) endGroup(child.pid)
      closeStreams()
      finish(outcome)
    }
    const onExit = (code: number | null, sig: NodeJS.Signals | null): void => {
      if (settled) return // timed out: the group is already being ended
      // The command is done: end whatever it left in its group, and read what is still in the pipes.
      const summary = code === 0
        ? `exit 0 in ${took()}s`
        : code !== null ? `exit ${code} after ${took()}s` : `killed by ${sig ?? 'a signal'} after ${took()}s`
      if (child.pid !== undefined) endGroup(child.pid)
      const report = (): void => {
        closeStreams()
        finish(code === 0 ? up(output.describe(summary), 'PROCOK') : down(output.describe(summary), 'PROCERR'))
      }
      exitTimer = setTimeout(report, DRAIN_AFTER_EXIT_MS)
      child.once('close', report)
    }
    child.once('error', (err) => {
      // Could not start (ENOENT, EACCES, ...); 'exit' may not follow.
      closeStreams()
      finish(down(`cannot run ${file}: ${describeError(err)}`, 'PROCERR'))
    })
    child.once('exit', onExit)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** The `script` protocol (see the file's description). */
export const script: Checker = {
  pathRequired: false,
  probes: true,
  namedByService: true,
  timeoutMs: scriptTimeoutMs,
  check: async (target, ctx) => {
    const entry = scriptOf(ctx.config, target.service)
    if (entry === undefined) return down(`no script ${target.service} in the config`, 'PROCERR', 404)
    return await run(scriptArgv(entry.command), target, ctx.signal, pacerFor(ctx.config))
  }
}
