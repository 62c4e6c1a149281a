/**
 * A copy of this checkout in a temp directory, as a new user's fresh clone would look (no
 * `spool/`, no local edits outside the tracked folders): the tests that run `npm pack`, the
 * `start` script or the README quick start work there, never in the checkout itself. The
 * dependencies are a symlink to this checkout's `node_modules` (installing them again would
 * take minutes and the network).
 */
import { spawn } from 'node:child_process'
import { cp, mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { ROOT, tempDir, type RunResult } from '../helper.js'

/** What a clone holds that the package, the build and `npm start` need. */
const TRACKED = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src', 'bin', 'config', 'docs', 'packaging']

/**
 * Copies the checkout to a temp directory (removed after the test).
 *
 * @param opts.built - also copy the built `dist/src` (else the copy is unbuilt, as a clone is).
 * @returns the copy's root.
 */
export async function copyCheckout (t: TestContext, opts: { built: boolean }): Promise<string> {
  const root = join(await tempDir(t, 'hacheck-clone-'), 'hacheck')
  await mkdir(root)
  for (const entry of TRACKED) await cp(join(ROOT, entry), join(root, entry), { recursive: true, preserveTimestamps: true })
  if (opts.built) await cp(join(ROOT, 'dist', 'src'), join(root, 'dist', 'src'), { recursive: true, preserveTimestamps: true })
  await symlink(join(ROOT, 'node_modules'), join(root, 'node_modules'))
  return root
}

/** The environment a user's shell would have: this one without npm's script variables or HACHECK_*. */
export function userEnv (extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(npm_|HACHECK_)/i.test(key)) continue
    env[key] = value
  }
  return { ...env, ...extra }
}

/**
 * Runs a command to completion (no stdin) in `cwd`, with {@link userEnv}, bounded by
 * `timeoutMs` (then SIGKILL, and the result says so).
 */
export async function runIn (cwd: string, command: string, args: readonly string[], opts: { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: opts.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { stderr += `\n[killed after ${opts.timeoutMs}ms]`; child.kill('SIGKILL') }, opts.timeoutMs ?? 120000)
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}
