/**
 * Test helpers: temp spool directories, apps built per test, the real built CLI spawned as a
 * process. Everything a helper creates is cleaned up by the test context `t`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { down, up, type Checker, type CheckOutcome, type CheckTarget } from '../src/checkers/types.js'
import { CONFIG_SECTIONS, makeConfig, type Config } from '../src/config/index.js'
import { buildApp, type AppDeps } from '../src/http/app.js'
import { Spool } from '../src/spool/spool.js'

/** The checkout's root (tests run from dist/test/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Bound, milliseconds, on an operation that must not hang (a read that would block on a FIFO, a
 * stop that would wait for a client, a probe its timeout must cut): many times what it takes on
 * a loaded 2-core machine, so it fails only when the operation hangs. Not a performance bound:
 * print what was measured with `t.diagnostic` instead.
 */
export const HANG_MS = 30_000

/** Bound, milliseconds, on a spawned process's start-up (a loaded machine with coverage on takes seconds to start Node). */
export const START_MS = 60_000

/** Path of a `bin/` program. */
export function bin (name: string): string {
  return join(ROOT, 'bin', name)
}

/** A fresh temp directory, removed after the test. */
export async function tempDir (t: TestContext, prefix = 'hacheck-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A spool on a fresh temp directory. */
export async function tempSpool (t: TestContext, nowSeconds?: () => number): Promise<Spool> {
  return await Spool.open(await tempDir(t, 'hacheck-spool-'), { write: true, nowSeconds })
}

/** An app on a temp spool (or the given one), closed after the test. */
export async function buildTestApp (
  t: TestContext,
  overrides: Partial<Record<keyof Config, unknown>> = {},
  deps: Partial<AppDeps> = {}
): Promise<{ app: FastifyInstance, spool: Spool, config: Config }> {
  const config = makeConfig(overrides)
  const spool = deps.spool ?? await tempSpool(t)
  const app = await buildApp(config, { ...deps, spool })
  t.after(async () => { await app.close() })
  return { app, spool, config }
}

/** What a finished process printed and how it exited. */
export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs a `bin/` program to completion (no stdin), with extra environment variables, optionally
 * under a wrapper command (e.g. `['prlimit', '--fsize=4096', '--']`).
 */
export async function runBin (
  name: string,
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  wrapper: readonly string[] = []
): Promise<RunResult> {
  const command = [...wrapper, process.execPath, bin(name), ...args]
  return await runCommand(command[0] as string, command.slice(1), { env: { ...process.env, ...env } })
}

/** Runs a program to completion (no stdin) with the given environment (default: this one) and directory. */
export async function runCommand (file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv, cwd?: string } = {}): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

/** A port that was free a moment ago on 127.0.0.1 (for spawned servers that need a fixed port). */
export async function freePort (): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

/**
 * Polls `fn` (every 50 ms) until it returns a value other than undefined. Fails after
 * `timeoutMs`, but never sooner than {@link HANG_MS}: the bound catches what never happens, it
 * does not time the machine (print measured times with `t.diagnostic`).
 */
export async function waitFor<T> (fn: () => Promise<T | undefined>, timeoutMs = HANG_MS, what = 'condition'): Promise<T> {
  const deadline = Date.now() + Math.max(timeoutMs, HANG_MS)
  for (;;) {
    try {
      const value = await fn()
      if (value !== undefined) return value
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Runs one checker directly (no spool, no cache) against 127.0.0.1:`port`, as the health
 * service would, with `healthcheck_timeout` from the overrides.
 */
export async function runChecker (
  checker: Checker,
  port: number,
  overrides: Partial<Record<keyof Config, unknown>> = {},
  target: Partial<CheckTarget> = {}
): Promise<CheckOutcome> {
  const config = makeConfig(overrides)
  const timeoutMs = config.healthcheck_timeout * 1000
  return await checker.check(
    { service: 'svc', host: '127.0.0.1', address: '127.0.0.1', port, query: '', queryString: '', headers: {}, ...target },
    { timeoutMs, signal: AbortSignal.timeout(timeoutMs), config }
  )
}

/**
 * A probing test protocol: connects to `target.address` (the address the check guard
 * approved) and reports `connected to <address>:<port>`, or 503 with the error. After an
 * optional delay, so tests can hold a check in flight.
 */
export function probeChecker (delayMs = 0): Checker {
  return {
    pathRequired: false,
    probes: true,
    check: async (target, ctx) => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
      const { address } = target
      return await new Promise((resolve) => {
        const socket = connect({ host: address, port: target.port, signal: ctx.signal })
        socket.once('connect', () => { socket.destroy(); resolve(up(`connected to ${address}:${target.port}`, 'L4OK')) })
        socket.once('error', (err) => { resolve(down(err.message, 'L4CON')) })
      })
    }
  }
}

/** A loopback TCP listener that counts the connections it accepts; closed after the test. */
export async function countingListener (t: TestContext, host = '127.0.0.1'): Promise<{ port: number, connections: () => number }> {
  let count = 0
  const server = createServer((socket) => { count++; socket.destroy() })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  t.after(() => { server.close() })
  return { port: (server.address() as AddressInfo).port, connections: () => count }
}

/** A spawned hacheck process and what it has logged so far. */
export interface SpawnedHacheck {
  child: ChildProcess
  /** stderr so far, raw. */
  stderr: () => string
  /** stderr lines that are JSON log records. */
  logs: () => Array<Record<string, unknown>>
  /** Waits for a log record matching `match` (up to `timeoutMs`). */
  waitForLog: (match: (record: Record<string, unknown>) => boolean, timeoutMs?: number, what?: string) => Promise<Record<string, unknown>>
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string | null>
}

/**
 * Stops a test's server as an operator would: SIGTERM, then SIGKILL when it has not exited
 * within `graceMs`. A process that exits by itself writes its coverage under c8
 * (docs/contributing.md "Coverage"); a killed one does not. Resolves once it has exited.
 */
export async function stopProcess (child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exit = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
  await exit
  clearTimeout(timer)
}

/**
 * Spawns `bin/hacheck` (or a script from dist/test/fixtures/) with `args` plus `-B 127.0.0.1`
 * unless `args` has `-B`, waits until every `ports` entry answers `/status`, and stops it after
 * the test if it still runs (SIGTERM, then SIGKILL after 3 s).
 */
export async function spawnHacheck (
  t: TestContext,
  args: readonly string[],
  opts: { ports: readonly number[], fixture?: string, env?: Record<string, string>, wrapper?: readonly string[], host?: string } = { ports: [] }
): Promise<SpawnedHacheck> {
  const script = opts.fixture === undefined ? bin('hacheck') : join(ROOT, 'dist', 'test', 'fixtures', `${opts.fixture}.js`)
  const bind = args.includes('-B') ? [] : ['-B', '127.0.0.1']
  const command = [...(opts.wrapper ?? []), process.execPath, script, ...bind, ...opts.ports.flatMap((p) => ['-p', String(p)]), ...args]
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HACHECK_FIXTURE: '1', ...opts.env } })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const exited = new Promise<number | string | null>((resolve) => child.on('exit', (code, signal) => { resolve(code ?? signal) }))
  t.after(async () => { await stopProcess(child) })
  const logs = (): Array<Record<string, unknown>> => stderr.split('\n').flatMap((line) => {
    try { return [JSON.parse(line) as Record<string, unknown>] } catch { return [] }
  })
  const host = opts.host ?? '127.0.0.1'
  for (const port of opts.ports) {
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/status`
    const deadline = Date.now() + START_MS
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`hacheck exited ${child.exitCode ?? child.signalCode}: ${stderr}`)
      if (await fetch(url).then((res) => res.ok, () => false)) break
      if (Date.now() > deadline) throw new Error(`timed out waiting for hacheck on port ${port}; stderr: ${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return {
    child,
    stderr: () => stderr,
    logs,
    waitForLog: async (match, timeoutMs = 10000, what = 'log record') =>
      await waitFor(async () => logs().find(match), timeoutMs, what).catch((err: Error) => { throw new Error(`${err.message}; stderr: ${stderr}`) }),
    exited
  }
}

/** True while a process with this pid exists. */
export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** What {@link getFrom} got back. */
export interface GetResult {
  status: number
  body: string
  headers: import('node:http').IncomingHttpHeaders
}

/**
 * GET `url` on a fresh connection from `localAddress` (e.g. `127.0.0.2`: on Linux all of
 * 127.0.0.0/8 is loopback, so a test can be another client), failing after `timeoutMs`.
 */
export async function getFrom (localAddress: string, url: string, opts: { headers?: Record<string, string>, timeoutMs?: number, method?: string } = {}): Promise<GetResult> {
  const { request } = await import('node:http')
  return await new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false, headers: opts.headers, method: opts.method ?? 'GET', signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => { body += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body, headers: res.headers }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** A config's keys as the file writes them, without the fields derived from them at load. */
export function configValues (config: Config): Record<string, unknown> {
  const values: Record<string, unknown> = {}
  for (const section of CONFIG_SECTIONS) for (const key of Object.keys(section.keys)) values[key] = config[key as keyof Config]
  return values
}

/**
 * Awaits `work()` and measures it: its value and the milliseconds it took. Fails with `what`
 * when it has not settled after `boundMs` (see {@link HANG_MS}).
 *
 * @throws the work's error, or Error naming `what` when the bound passed first.
 */
export async function untilSettled<T> (work: () => Promise<T>, what: string, boundMs = HANG_MS): Promise<{ value: T, ms: number }> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    const value = await Promise.race([work(), new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`${what}: not settled after ${boundMs} ms (hung?)`)) }, boundMs)
    })])
    return { value, ms: performance.now() - started }
  } finally {
    clearTimeout(timer)
  }
}

/** Bytes this process has read through read(2) and the like so far (Linux `/proc/self/io` `rchar`). */
export function bytesReadByProcess (): number {
  return Number(/^rchar: ([0-9]+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? Number.NaN)
}

/**
 * Waits, one event-loop turn at a time (setImmediate, no timer, so it also works under
 * `mock.timers`), until `ready()` is true: I/O in flight completes meanwhile, mocked timers do
 * not move. Fails after {@link HANG_MS} of real time.
 */
export async function turnsUntil (ready: () => boolean, what: string): Promise<void> {
  const started = performance.now()
  while (!ready()) {
    if (performance.now() - started > HANG_MS) throw new Error(`${what}: still not the case after ${HANG_MS} ms`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}
