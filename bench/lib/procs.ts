/**
 * Server processes for the benchmarks: spawned (optionally pinned to one CPU with `taskset`),
 * waited for, measured through /proc (CPU time, peak RSS) and killed at the end.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'

/** A running server process. */
export interface ServerProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  /** Port it listens on (127.0.0.1). */
  readonly port: number
  /** Everything it wrote to stderr so far. */
  stderr: () => string
}

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** Whether `taskset` can pin processes here. */
export function canPin (): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Pins every thread of this process to `cpu` (the load generator's core). */
export function pinSelf (cpu: number): void {
  execFileSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' })
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

/** Options for {@link startProcess}. */
export interface StartOptions {
  name: string
  /** Node script and its arguments. */
  args: string[]
  /**
   * Run `args[0]` as the executable it is (its `#!` line and the node flags there apply, as
   * when a user runs it) instead of under this process's `node`.
   */
  direct?: boolean
  /** CPU to pin the process to; none when undefined. */
  cpu?: number | undefined
  /** The port, when known in advance; otherwise the first line of stdout is read as the port. */
  port?: number
  /** URL path that answers 2xx once the server is ready (polled). */
  readyPath: string
}

/** Starts a Node server process and waits until `readyPath` answers. */
export async function startProcess (opts: StartOptions): Promise<ServerProcess> {
  const node = opts.direct === true ? opts.args : [process.execPath, ...opts.args]
  const [cmd, ...args] = opts.cpu === undefined ? node : ['taskset', '-c', String(opts.cpu), ...node]
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const exited = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`${opts.name} exited ${String(code)}: ${stderr}`)) })
  })
  exited.catch(() => {})
  const port = opts.port ?? await Promise.race([exited, new Promise<number>((resolve) => {
    child.stdout?.setEncoding('utf8').once('data', (d: string) => { resolve(Number(d.trim().split('\n')[0])) })
  })])
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${opts.readyPath}`)
      await res.arrayBuffer()
      if (res.ok) break
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${opts.name} did not become ready: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { name: opts.name, child, pid: child.pid as number, port, stderr: () => stderr }
}

/** Stops a process (SIGTERM, then SIGKILL after 2 s). */
export async function stopProcess (proc: ServerProcess): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
  const exited = new Promise((resolve) => proc.child.once('exit', resolve))
  proc.child.kill('SIGTERM')
  const timer = setTimeout(() => { proc.child.kill('SIGKILL') }, 2000)
  await exited
  clearTimeout(timer)
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may contain spaces) start at state, field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

/** Peak resident set size of a process so far (VmHWM), in MB. */
export function peakRssMb (pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? Number.NaN : Number(match[1]) / 1024
}
