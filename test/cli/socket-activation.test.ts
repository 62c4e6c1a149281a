/**
 * The server command and socket activation (docs/operator-guide.md "Restarts and upgrades"):
 * variables meant for another process leave start-up as it was (bind, one line on a conflict);
 * a malformed set meant for this one stops start-up with one coded line.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { bin, freePort, runCommand, spawnHacheck, tempDir } from '../helper.js'

test('LISTEN_* meant for another pid: hacheck binds its -p port itself, as without socket activation', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const h = await spawnHacheck(t, ['--spool-root', join(dir, 'spool')], { ports: [port], env: { LISTEN_PID: '1', LISTEN_FDS: '2', LISTEN_FDNAMES: 'http:agent' } })
  const line = await h.waitForLog((r) => r.msg === 'hacheck started')
  assert.deepEqual([line.socketActivation, line.ports], [false, [port]])
})

test('without socket activation a port in use still fails start-up with one line', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve))
  t.after(() => { holder.close() })
  const r = await runCommand(process.execPath, [bin('hacheck'), '-B', '127.0.0.1', '-p', String(port), '--spool-root', join(dir, 'spool')],
    { env: { ...process.env, LISTEN_PID: '1', LISTEN_FDS: '1' } })
  assert.equal(r.code, 1)
  assert.equal(r.stderr, `hacheck: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)\n`)
})

test('a malformed LISTEN_FDS meant for this process stops start-up with one coded line (exit 1)', async (t) => {
  const dir = await tempDir(t)
  const r = await runCommand('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=two exec "$0" "$@"', process.execPath, bin('hacheck'), '-B', '127.0.0.1', '-p', '0', '--spool-root', join(dir, 'spool')])
  assert.equal(r.code, 1)
  assert.equal(r.stderr, 'hacheck: socket activation: LISTEN_FDS is not a count: "two" (docs/operator-guide.md "Restarts and upgrades")\n')
})
