/** The start-up log line names the spool root as an absolute path, however it was given. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { bin, freePort, tempDir } from '../helper.js'

/** Starts bin/hacheck in `cwd` and resolves with its "hacheck started" record. */
async function startedLine (t: TestContext, cwd: string, args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [bin('hacheck'), '-B', '127.0.0.1', '-p', String(await freePort()), ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  t.after(() => { child.kill('SIGKILL') })
  let log = ''
  return await new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      log += d
      const line = log.split('\n').find((l) => l.includes('"hacheck started"'))
      if (line !== undefined) resolve(JSON.parse(line) as Record<string, unknown>)
    })
    child.on('exit', (code) => { reject(new Error(`hacheck exited ${String(code)}: ${log}`)) })
  })
}

test('a relative --spool-root or HACHECK_SPOOL_ROOT is logged as the absolute directory the server uses', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'work'))
  assert.equal((await startedLine(t, join(dir, 'work'), ['--spool-root', 'spool'])).spoolRoot, join(dir, 'work', 'spool'))
  assert.equal((await startedLine(t, join(dir, 'work'), [], { HACHECK_SPOOL_ROOT: '../spool2' })).spoolRoot, join(dir, 'spool2'))
})
