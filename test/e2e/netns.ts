/**
 * Network namespaces for tests whose targets lie outside loopback: the test makes a namespace
 * of its own (`ip netns add`, random name, deleted after the test) with only `lo` inside, so
 * any traffic that escapes a guard meets no route (a connect error), never another host.
 */
import { execFile, spawn } from 'node:child_process'
import type { TestContext } from 'node:test'
import { promisify } from 'node:util'
import { bin, waitFor } from '../helper.js'

export const run = promisify(execFile)

/**
 * A new namespace with `lo` up, deleted after the test; null (the test skipped, with the
 * reason) where namespaces cannot be made (no CAP_SYS_ADMIN, no iproute2).
 */
export async function makeNetns (t: TestContext): Promise<string | null> {
  const ns = `hacheck-t${process.pid}-${Math.floor(Math.random() * 1e6)}`
  try {
    await run('ip', ['netns', 'add', ns])
  } catch (err) {
    t.skip(`cannot create a network namespace here: ${(err as { stderr?: string }).stderr?.trim() ?? (err as Error).message}`)
    return null
  }
  t.after(async () => { await run('ip', ['netns', 'del', ns]).catch(() => {}) })
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  return ns
}

/** A client inside a namespace: `get` answers `{status} {body}`, `000 unreachable` on failure. */
export interface NetnsClient {
  get: (url: string, headers?: Record<string, string>) => Promise<string>
  close: () => void
}

/**
 * A client living inside the namespace: one node process that reads requests, one JSON line
 * each, and answers `{status} {body}` (JSON-encoded) per line, so each request costs no
 * process start. Killed after the test.
 */
export function clientInside (t: TestContext, ns: string): NetnsClient {
  const script = [
    "const rl = require('node:readline').createInterface({ input: process.stdin })",
    "rl.on('line', (line) => { const [url, headers] = JSON.parse(line); fetch(url, { headers, signal: AbortSignal.timeout(5000) })",
    "  .then(async (r) => r.status + ' ' + (await r.text()).trimEnd(), () => '000 unreachable')",
    "  .then((answer) => process.stdout.write(JSON.stringify(answer) + '\\n')) })"
  ].join('\n')
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.after(() => { child.kill('SIGKILL') })
  child.stdout.setEncoding('utf8')
  let buffered = ''
  const waiting: Array<(line: string) => void> = []
  child.stdout.on('data', (d: string) => {
    buffered += d
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      waiting.shift()?.(JSON.parse(line) as string)
    }
  })
  return {
    // Requests are answered in order: one at a time here.
    get: async (url, headers = {}) => await new Promise((resolve) => { waiting.push(resolve); child.stdin.write(`${JSON.stringify([url, headers])}\n`) }),
    close: () => { child.kill('SIGKILL') }
  }
}

/**
 * Starts the built `bin/hacheck` inside `ns` (`ip netns exec`) on 127.0.0.1:3333 (a fresh
 * namespace's loopback has it free) with `config` and a spool under `dir`, and waits for
 * `/status` to answer 200 through a client inside the namespace. Killed after the test.
 */
export async function hacheckInside (t: TestContext, ns: string, config: string, spoolRoot: string): Promise<NetnsClient> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, bin('hacheck'), '-c', config, '-B', '127.0.0.1', '-p', '3333', '--spool-root', spoolRoot],
    { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  t.after(() => { child.kill('SIGKILL') })
  const client = clientInside(t, ns)
  await waitFor(async () => (await client.get('http://127.0.0.1:3333/status')).startsWith('200') ? true : undefined, 15000, `hacheck in ${ns}: ${stderr}`)
  return client
}
