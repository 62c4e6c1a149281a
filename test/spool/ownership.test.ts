import assert from 'node:assert/strict'
import { chmod, chown, lstat, mkdir, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { IdNames, shellWord, unreadableLines } from '../../src/cli/spool-access.js'
import { writeFileAtomic } from '../../src/spool/atomic-file.js'
import { activatePresence } from '../../src/spool/presence.js'
import { Spool } from '../../src/spool/spool.js'
import { createdDirs, ownerMayRead, repairSpool } from '../../src/spool/ownership.js'
import { SpoolWeights } from '../../src/spool/weight.js'
import { tempDir } from '../helper.js'

const NOBODY = 65534
const isRoot = process.getuid?.() === 0

/** Runs `fn` under `umask`, restoring the old one (tests in one file run one at a time). */
async function withUmask<T> (umask: number, fn: () => Promise<T>): Promise<T> {
  const old = process.umask(umask)
  try { return await fn() } finally { process.umask(old) }
}

const modeOf = async (path: string): Promise<string> => ((await lstat(path)).mode & 0o7777).toString(8)

test('under umask 077 the spool writers still make files 0644 and directories 0750', async (t) => {
  const root = join(await tempDir(t), 'spool')
  await withUmask(0o077, async () => {
    const spool = await Spool.open(root, { write: true })
    await spool.down({ service: 'web' }, { reason: 'x' })
    await new SpoolWeights(spool).set({ service: 'web' }, 50)
    await writeFileAtomic(join(root, '@fleet'), 'view.json', '{}', root)
    await activatePresence(join(root, 'http_status', 'deep'), 'web')
  })
  assert.equal(await modeOf(root), '750')
  assert.equal(await modeOf(join(root, 'web')), '644')
  assert.equal(await modeOf(join(root, '@weight')), '750')
  assert.equal(await modeOf(join(root, '@weight', 'web')), '644')
  assert.equal(await modeOf(join(root, '@fleet', 'view.json')), '644')
  assert.equal(await modeOf(join(root, 'http_status')), '755', 'an http_status root is searchable by the server')
  assert.equal(await modeOf(join(root, 'http_status', 'deep')), '755')
  assert.equal(await modeOf(join(root, 'http_status', 'deep', 'web')), '644')
})

test('as root on a spool owned by another user, new files and directories take its owner and group', { skip: isRoot ? false : 'needs root' }, async (t) => {
  const root = join(await tempDir(t), 'spool')
  await mkdir(root)
  await chown(root, NOBODY, NOBODY)
  await withUmask(0o077, async () => {
    const spool = await Spool.open(root, { write: true })
    await spool.down({ service: 'web', port: 8080 }, { reason: 'x' })
    await new SpoolWeights(spool).set({ service: 'all' }, 10)
  })
  for (const path of [join(root, 'web:8080'), join(root, '@weight'), join(root, '@weight', 'all')]) {
    const s = await stat(path)
    assert.deepEqual([s.uid, s.gid], [NOBODY, NOBODY], path)
  }
})

test('the server reads what its uid or group may read; root:root means a server running as root', () => {
  const dir = { isDirectory: () => true }
  const file = { isDirectory: () => false }
  const hacheck = { uid: 1000, gid: 1000 }
  assert.equal(ownerMayRead({ ...file, uid: 1000, gid: 0, mode: 0o600 }, hacheck), true)
  assert.equal(ownerMayRead({ ...file, uid: 0, gid: 0, mode: 0o600 }, hacheck), false)
  assert.equal(ownerMayRead({ ...file, uid: 0, gid: 1000, mode: 0o640 }, hacheck), true)
  assert.equal(ownerMayRead({ ...file, uid: 1000, gid: 1000, mode: 0o044 }, hacheck), false, 'the owner class wins even when it is narrower')
  assert.equal(ownerMayRead({ ...dir, uid: 0, gid: 0, mode: 0o744 }, hacheck), false, 'a directory needs r and x')
  assert.equal(ownerMayRead({ ...dir, uid: 0, gid: 0, mode: 0o755 }, hacheck), true)
  assert.equal(ownerMayRead({ ...file, uid: 0, gid: 0, mode: 0o600 }, { uid: 0, gid: 1000 }), false, 'root:hacheck: a server in group hacheck')
  assert.equal(ownerMayRead({ ...file, uid: 0, gid: 0, mode: 0o000 }, { uid: 0, gid: 0 }), true)
})

test('createdDirs lists what mkdir -p made, outermost first', () => {
  assert.deepEqual(createdDirs(undefined, '/a/b/c'), [])
  assert.deepEqual(createdDirs('/a/b', '/a/b/c/d'), ['/a/b', '/a/b/c', '/a/b/c/d'])
  assert.deepEqual(createdDirs('/a/b', '/a/b'), ['/a/b'])
})

test('repair fixes owners and unreadable modes in the spool, follows no symlink and touches nothing else', { skip: isRoot ? false : 'needs root' }, async (t) => {
  const dir = await tempDir(t)
  const root = join(dir, 'spool')
  await mkdir(join(root, '@weight'), { recursive: true })
  await chown(root, NOBODY, NOBODY)
  await writeFile(join(root, 'web'), 'x', { mode: 0o600 })
  await writeFile(join(root, '@weight', 'all'), '{"weight":1}', { mode: 0o600 })
  await chmod(join(root, '@weight'), 0o700)
  const outside = join(dir, 'secret')
  await writeFile(outside, 'secret', { mode: 0o600 })
  await symlink(outside, join(root, 'api'))
  await symlink(outside, join(root, '@weight', 'api'))
  await writeFile(join(root, 'not a spool name'), 'x', { mode: 0o600 })
  const report = await repairSpool(root)
  assert.deepEqual(report.repaired.map((r) => r.path).sort(), [join(root, '@weight'), join(root, '@weight', 'all'), join(root, 'web')])
  assert.deepEqual(report.failed, [])
  for (const path of report.repaired.map((r) => r.path)) {
    const s = await stat(path)
    assert.deepEqual([s.uid, s.gid], [NOBODY, NOBODY], path)
  }
  const secret = await stat(outside)
  assert.deepEqual([secret.uid, secret.mode & 0o777], [0, 0o600], 'a symlink\'s target is never changed')
  assert.equal((await stat(join(root, 'not a spool name'))).uid, 0, 'only spool entries and @ directories')
  assert.deepEqual((await repairSpool(root)).repaired, [], 'a second repair has nothing to do')
})

test('hastatus\'s report names each entry the server cannot read, with a fix that works in a shell', { skip: isRoot ? false : 'needs root' }, async (t) => {
  const root = join(await tempDir(t), 'sp ool')
  await mkdir(join(root, '@weight'), { recursive: true })
  await chown(root, NOBODY, NOBODY)
  await chown(join(root, '@weight'), NOBODY, NOBODY)
  await writeFile(join(root, '@weight', 'web:8080'), '{"weight":1}', { mode: 0o600 })
  await writeFile(join(root, 'db'), 'x', { mode: 0o600 })
  const names = new IdNames('root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n', 'root:x:0:\nnogroup:x:65534:\n')
  const lines = unreadableLines('hastatus', root, [{ service: 'web', port: 8080 }, { service: 'api' }], names)
  assert.deepEqual(lines, [
    `hastatus: the server (nobody:nogroup, the spool root's owner) cannot read ${join(root, '@weight', 'web:8080')} (root:root 0600) and answers down where it needs it; ` +
    `fix: chown nobody:nogroup '${join(root, '@weight', 'web:8080')}' && chmod 0644 '${join(root, '@weight', 'web:8080')}' (or run haup, hadown or haweight as root, which repair it)`
  ], 'db is not asked about')
  assert.equal(shellWord("it's"), "'it'\\''s'")
  assert.equal(new IdNames('', '').of(5, 6), '5:6', 'ids without a name print as numbers')
})
