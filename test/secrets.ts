/**
 * Checks that a configured password never leaves hacheck: a real `bin/hacheck -v` (debug
 * logging, one line per request) with a config file holding the password, asked the given
 * check URLs; the password must appear in no answer, no log line, and not in `/recent`.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { freePort, HANG_MS, spawnHacheck, tempDir } from './helper.js'

/**
 * @param config - config keys, the password among them.
 * @param secret - the password.
 * @param steps - check URLs to ask (passing and failing ones), and actions to run between them
 *   (e.g. changing the password on the server).
 * @returns the status codes of the answers, in order.
 */
export async function assertSecretKept (t: TestContext, config: Record<string, unknown>, secret: string, steps: Array<string | (() => Promise<void>)>): Promise<number[]> {
  const dir = await tempDir(t, 'hacheck-secret-')
  const file = join(dir, 'hacheck.yaml')
  await writeFile(file, `${JSON.stringify({ cache_time: 0, ...config })}\n`)
  const port = await freePort()
  const hacheck = await spawnHacheck(t, ['-c', file, '-v', '--spool-root', join(dir, 'spool')], { ports: [port] })
  const codes: number[] = []
  const seen: string[] = []
  for (const url of [...steps, '/recent', '/status']) {
    if (typeof url === 'function') {
      await url()
      continue
    }
    const res = await fetch(`http://127.0.0.1:${port}${url}`)
    const body = await res.text()
    seen.push(`${url} -> ${res.status} ${body} ${JSON.stringify([...res.headers])}`)
    if (!url.startsWith('/recent') && !url.startsWith('/status')) codes.push(res.status)
  }
  // The last request's log line is the last line it causes: everything before it has arrived.
  await hacheck.waitForLog((r) => typeof r.msg === 'string' && / GET \/status /.test(r.msg), HANG_MS, 'the last request\'s log line')
  const everything = `${seen.join('\n')}\n${hacheck.stderr()}`
  assert.ok(!everything.includes(secret), `the password leaked:\n${everything}`)
  const first = steps.find((s): s is string => typeof s === 'string') ?? '/'
  assert.ok(hacheck.stderr().includes(first), 'request lines were logged (-v), so the log was looked at')
  return codes
}
