/**
 * `haactivate` / `hainactivate` (the built bin/ programs) and `config/http_status.functions`
 * sourced by a real /bin/sh, as an init script does, checked through the http_status route.
 */
import assert from 'node:assert/strict'
import { lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp, ROOT, runBin, runCommand, tempDir, type RunResult } from '../helper.js'

async function exists (path: string): Promise<boolean> {
  return await lstat(path).then(() => true, () => false)
}

test('haactivate / hainactivate: SERVICE [-P PORT] create and remove presence files the route reads', async (t) => {
  const dir = await tempDir(t)
  const root = join(dir, 'http_status') // absent: haactivate creates it
  const { app } = await buildTestApp(t, { http_status_root: root })
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=80')).statusCode, 404)
  let r = await runBin('haactivate', ['--http-status-root', root, '-P', '80', 'squid'])
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''])
  assert.equal((await stat(join(root, 'squid.80'))).size, 0)
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=80')).statusCode, 200)
  r = await runBin('haactivate', ['--http-status-root', root, '-P', '80', 'squid'])
  assert.equal(r.code, 0, 'activating twice is fine')
  r = await runBin('haactivate', ['--http-status-root', root, 'haproxy', 'status.html'])
  assert.equal(r.code, 0)
  assert.equal((await app.inject('/status?SERVICE=haproxy&VIP=127.0.0.1')).statusCode, 200)
  assert.equal((await app.inject('/status?VIP=127.0.0.1')).statusCode, 200)
  r = await runBin('hainactivate', ['--http-status-root', root, '--service-port', '80', 'squid'])
  assert.deepEqual([r.code, r.stderr], [0, ''])
  assert.equal(await exists(join(root, 'squid.80')), false)
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=80')).statusCode, 404)
  r = await runBin('hainactivate', ['--http-status-root', root, '-P', '80', 'squid'])
  assert.equal(r.code, 0, 'inactivating an inactive service is fine')
})

test('haactivate: the root comes from -c (http_status_root) when --http-status-root is not given', async (t) => {
  const dir = await tempDir(t)
  const root = join(dir, 'from-config')
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, `http_status_root: ${root}\n`)
  const r = await runBin('haactivate', ['-c', config, 'squid'])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(await exists(join(root, 'squid')))
  // The same config file as the spool tools: $HACHECK_CONFIG when -c is not given.
  const viaEnv = await runBin('hainactivate', ['squid'], { HACHECK_CONFIG: config })
  assert.equal(viaEnv.code, 0, viaEnv.stderr)
  assert.equal(await exists(join(root, 'squid')), false)
})

test('haactivate: bad names and ports are usage errors (exit 2); a symlink is never followed (exit 1)', async (t) => {
  const dir = await tempDir(t)
  const root = join(dir, 'root')
  await mkdir(root)
  for (const args of [['../etc/passwd'], ['a/b'], ['..'], [], ['-P', '80x', 'squid'], ['-P', '70000', 'squid'], ['--bogus', 'x']]) {
    const r = await runBin('haactivate', ['--http-status-root', root, ...args])
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /usage: haactivate /)
  }
  const outside = join(dir, 'outside')
  await writeFile(outside, 'keep me')
  await symlink(outside, join(root, 'linked'))
  let r = await runBin('haactivate', ['--http-status-root', root, 'linked'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /cannot create presence file .*linked: it is a symlink/)
  assert.equal(await readFile(outside, 'utf8'), 'keep me')
  r = await runBin('hainactivate', ['--http-status-root', root, 'linked'])
  assert.equal(r.code, 0)
  assert.equal(await exists(join(root, 'linked')), false, 'the link itself is removed')
  assert.equal(await readFile(outside, 'utf8'), 'keep me', 'never what it points to')
})

/** Runs `script` in /bin/sh with the functions file sourced, as an init script would. */
async function sh (script: string, env: Record<string, string>): Promise<RunResult> {
  return await runCommand('/bin/sh', ['-c', `. "${join(ROOT, 'config', 'http_status.functions')}"\n${script}`], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }
  })
}

test('config/http_status.functions: activate / inactivate / deactivate for init scripts', async (t) => {
  const dir = await tempDir(t)
  const root = join(dir, 'http_status')
  const env = { HACHECK_BIN: join(ROOT, 'bin'), HACHECK_ACTIVATE_ARGS: `--http-status-root ${root}` }
  const { app } = await buildTestApp(t, { http_status_root: root })
  let r = await sh('activate squid 80 && activate haproxy', env)
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'Activating squid 80: OK\nActivating haproxy: OK\n', ''])
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=80')).statusCode, 200)
  assert.equal((await app.inject('/status?SERVICE=haproxy')).statusCode, 200)
  r = await sh('inactivate squid 80 && deactivate haproxy', env)
  assert.deepEqual([r.code, r.stdout], [0, 'Inactivating squid 80: OK\nInactivating haproxy: OK\n'])
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=80')).statusCode, 404)
  assert.equal((await app.inject('/status?SERVICE=haproxy')).statusCode, 404)
  r = await sh('activate "../x"; echo "rc=$?"', env)
  assert.equal(r.stdout, 'Activating ../x: FAILED\nrc=1\n')
  assert.match(r.stderr, /invalid service name/)
})
