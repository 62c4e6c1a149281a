/**
 * Tools that never lock the server out (docs/install.md "Spool ownership"): the server runs as
 * an unprivileged user (`nobody`, through `setpriv`) on a spool root it owns, the tools run as
 * root with `umask 077`, and every answer stays right, for the service a tool touched and for
 * the others. Then files as an older tool left them (root:root, 0700/0600): the agent answers
 * down, `hastatus` names each with the command that fixes it, and `haweight --clear`, `haup`
 * and `hadown` put them right. Needs root and `setpriv` (skipped otherwise, with the reason).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { askAgent } from '../agent/client.js'
import { bin, freePort, runCommand, spawnHacheck, type RunResult } from '../helper.js'

const NOBODY = 65534

/** Why this cannot run here, or null. */
function unavailable (): string | null {
  if (process.getuid?.() !== 0) return 'needs root (tools run as root on a spool owned by another user)'
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' })
  } catch {
    return 'needs setpriv (util-linux) to run the server as nobody'
  }
  return null
}

/** Runs a tool as root with umask 077, as `sudo` from a careful login shell would. */
async function rootTool (name: string, args: readonly string[]): Promise<RunResult> {
  return await runCommand('/bin/sh', ['-c', 'umask 077 && exec "$@"', 'sh', process.execPath, bin(name), ...args])
}

/** A directory nobody can reach (a fresh mkdtemp is 0700 root), removed after the test. */
async function sharedDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-owner-'))
  await chmod(dir, 0o755)
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function owner (path: string): Promise<[number, number, string]> {
  const s = await stat(path)
  return [s.uid, s.gid, (s.mode & 0o7777).toString(8)]
}

test('server as nobody, tools as root with umask 077: everything stays readable, and broken entries are reported and repaired', { timeout: 120_000 }, async (t) => {
  const why = unavailable()
  if (why !== null) { t.skip(why); return }
  const dir = await sharedDir(t)
  const spool = join(dir, 'spool')
  await mkdir(spool, { mode: 0o750 })
  await chown(spool, NOBODY, NOBODY)
  await chmod(spool, 0o750)
  const httpStatus = join(dir, 'http_status')
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, `spool_root: ${spool}\nhttp_status_root: ${httpStatus}\n`, { mode: 0o644 })
  const [port, agentPort] = [await freePort(), await freePort()]
  const server = await spawnHacheck(t, ['-c', config, '--agent-port', String(agentPort)], {
    ports: [port],
    wrapper: ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups']
  })
  const get = async (path: string): Promise<[number, string]> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`)
    return [res.status, await res.text()]
  }
  const agent = async (service: string): Promise<string> => (await askAgent(agentPort, `${service}\n`)).trim()
  const tool = async (name: string, ...args: string[]): Promise<RunResult> => await rootTool(name, ['-c', config, ...args])

  // A weight and a down file set by root under umask 077 belong to the spool's owner, readable.
  let r = await tool('haweight', 'web', '50')
  assert.deepEqual([r.code, r.stderr], [0, ''])
  assert.deepEqual(await owner(join(spool, '@weight')), [NOBODY, NOBODY, '750'])
  assert.deepEqual(await owner(join(spool, '@weight', 'web')), [NOBODY, NOBODY, '644'])
  r = await tool('hadown', '-r', 'deploy', 'api')
  assert.deepEqual([r.code, r.stderr], [0, ''])
  assert.deepEqual(await owner(join(spool, 'api')), [NOBODY, NOBODY, '644'])
  assert.equal(await agent('web'), 'ready up 50%')
  assert.equal(await agent('db'), 'ready up', 'another service is untouched by web\'s weight')
  assert.match(await agent('api'), /^ready down #Service api in down state since [^:]+: deploy$/)
  assert.deepEqual((await get('/spool/api/0/'))[0], 503)
  assert.deepEqual(await get('/spool/db/0/'), [200, ''])
  r = await tool('hastatus', 'web', 'db')
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'UP\tweb\nWEIGHT\t50\tweb\nUP\tdb\n', ''])

  // haactivate as root under umask 077: the http_status root it creates can be searched.
  r = await tool('haactivate', 'web')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual((await owner(httpStatus))[2], '755')
  assert.equal((await get('/status?SERVICE=web'))[0], 200)

  // As an older tool left them: @weight root:root 0700 and a root:root 0600 down file.
  await chown(join(spool, '@weight'), 0, 0)
  await chmod(join(spool, '@weight'), 0o700)
  await writeFile(join(spool, 'cache'), 'old tool', { mode: 0o600 })
  assert.match(await agent('db'), /^ready down #cannot read weight file @weight\/all: EACCES/, 'one unreadable @weight takes every service down')
  assert.match((await get('/spool/cache/0/'))[1], /cannot read spool entry cache: EACCES/)
  r = await tool('hastatus', 'web', 'cache')
  assert.equal(r.code, 1, 'the server answers down')
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 2, r.stderr)
  assert.match(r.stderr, new RegExp(`^hastatus: the server \\(nobody:[a-z]+, the spool root's owner\\) cannot read ${join(spool, '@weight')} \\(root:root 0700\\) .*; fix: chown nobody:[a-z]+ ${join(spool, '@weight')} && chmod 0750 ${join(spool, '@weight')} `, 'm'))
  assert.match(r.stderr, new RegExp(`cannot read ${join(spool, 'cache')} \\(root:root 0600\\) .*; fix: chown nobody:[a-z]+ ${join(spool, 'cache')} && chmod 0644 ${join(spool, 'cache')} `))
  t.diagnostic(lines[0] ?? '')

  // haweight --clear repairs @weight (and says so): every service's agent answer is right again.
  // The owner's bits were enough once it is the owner's: the mode is changed only when not.
  r = await tool('haweight', '--clear', 'web')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, new RegExp(`^haweight: repaired ${join(spool, '@weight')}, .*: root:root 0700 -> nobody:[a-z]+ 0700$`, 'm'))
  assert.deepEqual(await owner(join(spool, '@weight')), [NOBODY, NOBODY, '700'])
  assert.equal(await agent('db'), 'ready up')
  assert.equal(await agent('web'), 'ready up')
  // ... and any write repairs the spool files too: the server reads cache's own reason again.
  assert.deepEqual(await owner(join(spool, 'cache')), [NOBODY, NOBODY, '600'])
  assert.match((await get('/spool/cache/0/'))[1], /Service cache in down state: old tool/)
  r = await tool('hastatus', 'web', 'cache')
  assert.deepEqual([r.code, r.stderr], [1, ''], 'cache is down by its own file now, and nothing is unreadable')

  // haup and hadown repair too.
  await chown(join(spool, 'api'), 0, 0)
  await chmod(join(spool, 'api'), 0o600)
  r = await tool('haup', 'cache')
  assert.match(r.stderr, /^haup: repaired .*\/api, /m)
  assert.match(await agent('api'), /: deploy$/)
  await chmod(join(spool, 'api'), 0o000)
  r = await tool('hadown', '-r', 'x', 'other')
  assert.match(r.stderr, /^hadown: repaired .*\/api, .*0000 -> nobody:[a-z]+ 0644$/m)
  assert.equal(await agent('db'), 'ready up')
  assert.equal(server.child.exitCode, null, 'the server ran throughout')
})
