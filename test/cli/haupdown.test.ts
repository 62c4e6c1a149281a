import assert from 'node:assert/strict'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp, freePort, runBin, tempDir } from '../helper.js'

test('hadown, hastatus, haup: the CONTRACT lines and exit codes', async (t) => {
  const root = await tempDir(t)
  let r = await runBin('hadown', ['-r', 'maintenance', '--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''])
  const file = JSON.parse(await readFile(join(root, 'web'), 'utf8'))
  assert.equal(file.reason, 'maintenance')
  assert.equal(file.expiration, null)
  assert.equal(typeof file.creation, 'number')

  r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [1, 'DOWN\tinf\tweb\tmaintenance\n'])

  r = await runBin('haup', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''])
  r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [0, 'UP\tweb\n'])
})

test('several services at once; status exits 1 if any is down', async (t) => {
  const root = await tempDir(t)
  assert.equal((await runBin('hadown', ['-r', 'x', '--spool-root', root, 'a', 'b'])).code, 0)
  assert.deepEqual((await readdir(root)).sort(), ['a', 'b'])
  assert.equal((await runBin('haup', ['--spool-root', root, 'a'])).code, 0)
  const r = await runBin('hastatus', ['--spool-root', root, 'a', 'b'])
  assert.deepEqual([r.code, r.stdout], [1, 'UP\ta\nDOWN\tinf\tb\tx\n'])
})

test('status reports what the daemon answers: all down is a down, with its source and file after the reference\'s fields', async (t) => {
  const root = await tempDir(t)
  await runBin('hadown', ['-r', 'host', '--spool-root', root, 'all'])
  const r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [1, 'DOWN\tinf\tweb\thost\tlocal\tall\n'])
})

test('-e sets the expiry (printed as %f); an expired file reads as up and is removed', async (t) => {
  const root = await tempDir(t)
  await runBin('hadown', ['-r', 'later', '-e', '4102444800.5', '--spool-root', root, 'web'])
  let r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.equal(r.stdout, 'DOWN\t4102444800.500000\tweb\tlater\n')
  await writeFile(join(root, 'web'), JSON.stringify({ reason: 'past', expiration: 1000, creation: null }))
  r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [0, 'UP\tweb\n'])
  assert.deepEqual(await readdir(root), [])
})

test('-P and -H: per-port and per-host files, printed as svc:host:port', async (t) => {
  const root = await tempDir(t)
  await runBin('hadown', ['-r', 'p', '-P', '1234', '--spool-root', root, 'web'])
  await runBin('hadown', ['-r', 'h', '-P', '1234', '-H', '10.0.0.1', '--spool-root', root, 'web'])
  assert.deepEqual((await readdir(root)).sort(), ['web:10.0.0.1:1234', 'web:1234'])
  let r = await runBin('hastatus', ['-P', '1234', '--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [1, 'DOWN\tinf\tweb::1234\tp\n'])
  r = await runBin('hastatus', ['-P', '1234', '-H', '10.0.0.1', '--spool-root', root, 'web'])
  assert.equal(r.stdout, 'DOWN\tinf\tweb:10.0.0.1:1234\th\n')
  r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [0, 'UP\tweb\n'])
  r = await runBin('hastatus', ['-P', '99', '--spool-root', root, 'web'])
  assert.equal(r.stdout, 'UP\tweb::99\n')
})

test('-H without -P is a usage error, exit 2', async (t) => {
  const root = await tempDir(t)
  const r = await runBin('hadown', ['-r', 'x', '-H', '10.0.0.1', '--spool-root', root, 'web'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--service-host requires --service-port\nusage: hadown /)
  assert.deepEqual(await readdir(root), [])
})

test('hashowdowned lists every down file in the status format, exit 0', async (t) => {
  const root = await tempDir(t)
  await runBin('hadown', ['-r', 'a', '--spool-root', root, 'all'])
  await runBin('hadown', ['-r', 'b', '-e', '4102444800', '--spool-root', root, 'web'])
  await runBin('hadown', ['-r', 'c', '-P', '80', '--spool-root', root, 'web'])
  await writeFile(join(root, 'legacy'), 'old style')
  const r = await runBin('hashowdowned', ['--spool-root', root])
  assert.equal(r.code, 0)
  assert.equal(r.stdout, [
    'DOWN\tinf\tall\ta',
    'DOWN\tinf\tlegacy\told style',
    'DOWN\t4102444800.000000\tweb\tb',
    'DOWN\tinf\tweb::80\tc',
    ''
  ].join('\n'))
})

test('-a picks the action whatever the program name', async (t) => {
  const root = await tempDir(t)
  assert.equal((await runBin('hastatus', ['-a', 'down', '-r', 'via -a', '--spool-root', root, 'web'])).code, 0)
  let r = await runBin('haup', ['--action', 'status', '--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [1, 'DOWN\tinf\tweb\tvia -a\n'])
  r = await runBin('hadown', ['-a', 'status_downed', '--spool-root', root])
  assert.deepEqual([r.code, r.stdout], [0, 'DOWN\tinf\tweb\tvia -a\n'])
  r = await runBin('hadown', ['-a', 'explode', '--spool-root', root, 'web'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /action must be one of up, down, status, status_downed, list/)
})

test('the default reason is $SUDO_USER, else $SSH_USER, else the login name', async (t) => {
  const root = await tempDir(t)
  const reasonOf = async (env: Record<string, string | undefined>): Promise<string> => {
    await runBin('hadown', ['--spool-root', root, 'web'], { SUDO_USER: undefined, SSH_USER: undefined, HACHECK_NONHUMANS_FILE: '/nonexistent', ...env })
    return JSON.parse(await readFile(join(root, 'web'), 'utf8')).reason
  }
  assert.equal(await reasonOf({ SUDO_USER: 'alice', SSH_USER: 'bob' }), 'alice')
  assert.equal(await reasonOf({ SSH_USER: 'bob' }), 'bob')
  assert.equal(await reasonOf({}), userInfo().username)
})

test('a login name listed in nonhumans must give -r', async (t) => {
  const root = await tempDir(t)
  const nonhumans = join(root, '..', `nonhumans-${process.pid}`)
  await writeFile(nonhumans, `# robots\njenkins\n${userInfo().username}  # this one too\n`)
  t.after(async () => { await rm(nonhumans, { force: true }) })
  const env = { SUDO_USER: undefined, SSH_USER: undefined, HACHECK_NONHUMANS_FILE: nonhumans }
  let r = await runBin('hadown', ['--spool-root', root, 'web'], env)
  assert.equal(r.code, 1)
  assert.equal(r.stderr, 'please use --reason option to tell us who you REALLY are\n')
  assert.deepEqual(await readdir(root), [])
  r = await runBin('hadown', ['--spool-root', root, 'web'], { ...env, SUDO_USER: 'jenkins' })
  assert.equal(r.code, 1, 'a robot behind sudo is still a robot')
  r = await runBin('hadown', ['-r', 'deploy by alice', '--spool-root', root, 'web'], env)
  assert.equal(r.code, 0)
})

test('usage errors exit 2 with a usage line', async (t) => {
  const root = await tempDir(t)
  for (const args of [
    ['--spool-root', root], // no service
    ['--spool-root', root, '--bogus', 'web'],
    ['--spool-root', root, '-e', 'tomorrow', 'web'],
    ['--spool-root', root, '-P', '70000', 'web'],
    ['--spool-root', root, '-r', 'x', '../etc'],
    ['--spool-root', root, '-r', 'x', 'a/b']
  ]) {
    const r = await runBin('hadown', args)
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.stderr, /\nusage: hadown /)
  }
  assert.deepEqual(await readdir(root), [])
})

test('re-downing with the same reason keeps the original creation', async (t) => {
  const root = await tempDir(t)
  await runBin('hadown', ['-r', 'same', '--spool-root', root, 'web'])
  const first = JSON.parse(await readFile(join(root, 'web'), 'utf8')).creation
  await new Promise((resolve) => setTimeout(resolve, 20))
  await runBin('hadown', ['-r', 'same', '--spool-root', root, 'web'])
  assert.equal(JSON.parse(await readFile(join(root, 'web'), 'utf8')).creation, first)
})

test('a spool root that cannot be written is a clear error, exit 1', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'file'), '')
  const r = await runBin('hadown', ['-r', 'x', '--spool-root', join(dir, 'file'), 'web'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /spool root .*file is not a readable and writable directory/)
})

test('halist prints the daemon\'s /recent, one service per line', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject({ url: '/spool/web/0/', remoteAddress: '10.0.0.9' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const r = await runBin('halist', ['-p', String(port)])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /^web last_response=\{"code": 200, "remote_ip": "10\.0\.0\.9", "ts": [0-9.]+, "check_status": "L7OK", "duration_ms": [0-9.]+\}\n$/)
})

test('halist against no daemon fails with exit 1, naming the URL and the reason', async () => {
  const port = await freePort()
  const r = await runBin('halist', ['-p', String(port)])
  assert.equal(r.code, 1)
  assert.equal(r.stderr, `halist: cannot list services from the hacheck daemon at http://127.0.0.1:${port}/recent: connect ECONNREFUSED 127.0.0.1:${port} (is it running? -p gives its port)\n`)
})
