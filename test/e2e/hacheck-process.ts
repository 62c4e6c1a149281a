/**
 * The built `bin/hacheck` as a user runs it: a child process with `-c <temp YAML>` and
 * `--spool-root <dir>`, on 127.0.0.1 and a free port, killed after the test. It can be killed
 * (SIGKILL: no goodbye) and started again on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { bin, freePort, START_MS, stopProcess, tempDir } from '../helper.js'

/** A running (or killed) hacheck server process. */
export interface HacheckProcess {
  readonly port: number
  readonly spoolRoot: string
  /** `http://127.0.0.1:<port><path>`. */
  url: (path: string) => string
  /** What the current process wrote to stderr (its log, at the default log_path). */
  stderr: () => string
  /** Sends `signal` (default SIGKILL) and waits for the process to exit. */
  kill: (signal?: NodeJS.Signals) => Promise<void>
  /** Starts it again with the same arguments and port; resolves once it answers `/status`. */
  restart: () => Promise<void>
}

/** Options for {@link startHacheckProcess}. */
export interface HacheckProcessOptions {
  /** Config keys, written as the `-c` file (JSON is YAML). */
  config?: Record<string, unknown>
  /** Spool root; a fresh temp directory when absent. */
  spoolRoot?: string
  /** Extra command-line arguments. */
  args?: string[]
}

/**
 * Starts `bin/hacheck` and waits until it answers `GET /status`.
 *
 * @throws when it exits or does not answer within 10 s.
 */
export async function startHacheckProcess (t: TestContext, opts: HacheckProcessOptions = {}): Promise<HacheckProcess> {
  const dir = await tempDir(t, 'hacheck-e2e-')
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, `${JSON.stringify(opts.config ?? {})}\n`)
  const spoolRoot = opts.spoolRoot ?? join(dir, 'spool')
  const port = await freePort()
  const args = [bin('hacheck'), '-c', config, '--spool-root', spoolRoot, '-B', '127.0.0.1', '-p', String(port), ...(opts.args ?? [])]
  let child: ChildProcess | undefined
  let stderr = ''

  const exited = async (proc: ChildProcess): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    await new Promise((resolve) => proc.once('exit', resolve))
  }
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child === undefined) return
    const proc = child
    proc.kill(signal)
    await exited(proc)
  }
  const start = async (): Promise<void> => {
    stderr = ''
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const deadline = Date.now() + START_MS
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`hacheck exited ${proc.exitCode}: ${stderr}`)
      try {
        const res = await fetch(`http://127.0.0.1:${port}/status`)
        await res.arrayBuffer()
        if (res.ok) return
      } catch {}
      if (Date.now() > deadline) throw new Error(`hacheck did not answer on port ${port} within ${START_MS} ms: ${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  t.after(async () => { if (child !== undefined) await stopProcess(child) })
  await start()
  return {
    port,
    spoolRoot,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    stderr: () => stderr,
    kill,
    restart: start
  }
}
