import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { checkStatus, main, serverArgvOf, statusUrls } from '../../src/cli/container-health.js'
import { parseServerArgs } from '../../src/cli/server-args.js'
import { ROOT, freePort, spawnHacheck, tempDir } from '../helper.js'

test('the server\'s arguments are found after bin/hacheck, with or without an init in front', () => {
  assert.deepEqual(serverArgvOf(['node', '/app/bin/hacheck', '-p', '8080']), ['-p', '8080'])
  assert.deepEqual(serverArgvOf(['/sbin/docker-init', '--', '/app/bin/hacheck', '-c', '/etc/h.yaml']), ['-c', '/etc/h.yaml'])
  assert.equal(serverArgvOf(['node', 'something-else.js']), null)
})

test('the /status URLs follow -p (every port) and -B (a wildcard is asked on 127.0.0.1)', () => {
  assert.deepEqual(statusUrls(parseServerArgs([])), ['http://127.0.0.1:3333/status'])
  assert.deepEqual(statusUrls(parseServerArgs(['-p', '8080', '-p', '9090'])), ['http://127.0.0.1:8080/status', 'http://127.0.0.1:9090/status'])
  assert.deepEqual(statusUrls(parseServerArgs(['-B', '::', '-p', '1'])), ['http://127.0.0.1:1/status'])
  assert.deepEqual(statusUrls(parseServerArgs(['-B', '::1', '-p', '1'])), ['http://[::1]:1/status'])
  assert.deepEqual(statusUrls(parseServerArgs(['-B', '10.1.2.3', '-p', '1'])), ['http://10.1.2.3:1/status'])
})

test('healthy while the server answers on its configured port, unhealthy on another', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  await spawnHacheck(t, ['--spool-root', dir], { ports: [port] })
  assert.equal(await checkStatus([`http://127.0.0.1:${port}/status`]), null)
  const closed = await freePort()
  assert.match(await checkStatus([`http://127.0.0.1:${port}/status`, `http://127.0.0.1:${closed}/status`]) ?? '', new RegExp(`:${closed}/status: .*ECONNREFUSED`))

  // The script as the image runs it, reading a command line like /proc/1/cmdline.
  const cmdline = join(dir, 'cmdline')
  await writeFile(cmdline, ['node', '/app/bin/hacheck', '-B', '0.0.0.0', '-p', String(port), ''].join('\0'))
  assert.equal(await main(cmdline), 0)
  await writeFile(cmdline, ['node', '/app/bin/hacheck', '-p', String(closed), ''].join('\0'))
  assert.equal(await main(cmdline), 1)
})

test('run as a script (the image\'s HEALTHCHECK), it exits 1 with one line when PID 1 is not hacheck', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'container-health.js')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise((resolve) => child.on('close', resolve))
  assert.equal(code, 1)
  assert.equal(stderr, 'hacheck health: no hacheck in /proc/1/cmdline\n')
})
