/**
 * Every signal hacheck documents (docs/operator-guide.md "Signals and graceful stop") is
 * handled from the first answer on: SIGHUP and SIGUSR2 sent the moment a check is answered
 * never take the default action (exit), with or without `-n`.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort, spawnHacheck, tempDir } from '../helper.js'

for (const procs of ['1', '2']) {
  test(`-n ${procs}: SIGHUP and SIGUSR2 at the first answer are handled, and the server keeps serving`, async (t) => {
    const dir = await tempDir(t)
    const port = await freePort()
    const config = join(dir, 'hacheck.yaml')
    await writeFile(config, 'cache_time: 1\n')
    // spawnHacheck resolves at the first 200 from /status: the signals go out right then.
    const h = await spawnHacheck(t, ['-n', procs, '-c', config, '--spool-root', join(dir, 'spool')], { ports: [port] })
    h.child.kill('SIGHUP')
    h.child.kill('SIGUSR2')
    const outcome = procs === '1'
      ? await h.waitForLog((r) => String(r.msg).startsWith('config valid; without -n'))
      : await h.waitForLog((r) => r.msg === 'reloaded')
    assert.ok(outcome)
    assert.equal(h.child.exitCode, null, `still running: ${h.stderr()}`)
    assert.equal(h.child.signalCode, null)
    assert.equal((await fetch(`http://127.0.0.1:${port}/spool/web/0/`)).status, 200)
  })
}

test('-n 1: SIGUSR2 with an invalid config logs one line and keeps serving', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, 'cache_time: 1\n')
  const h = await spawnHacheck(t, ['-c', config, '--spool-root', join(dir, 'spool')], { ports: [port] })
  await writeFile(config, 'cache_time: [1\n')
  h.child.kill('SIGUSR2')
  const line = await h.waitForLog((r) => String(r.msg).startsWith('reload refused'))
  assert.match(String(line.msg), /^reload refused, still serving with the previous config: config file .*hacheck\.yaml, line \d+, column \d+: not valid YAML/)
  assert.equal((await fetch(`http://127.0.0.1:${port}/spool/web/0/`)).status, 200)
})
