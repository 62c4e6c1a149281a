import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { hasCode } from '../../src/errors.js'
import { removeIfUnchanged } from '../../src/spool/files.js'
import {
  Spool, describeDown, formatSpoolContents, isValidServiceName, parseSpoolContents, parseSpoolFileName, spoolFileName
} from '../../src/spool/spool.js'
import { tempDir, tempSpool } from '../helper.js'

test('file names: all, svc, svc:port, svc:host:port; port 0 and 127.0.0.1 mean none', () => {
  assert.equal(spoolFileName({ service: 'all' }), 'all')
  assert.equal(spoolFileName({ service: 'web' }), 'web')
  assert.equal(spoolFileName({ service: 'web', port: 0 }), 'web')
  assert.equal(spoolFileName({ service: 'web', port: 8080 }), 'web:8080')
  assert.equal(spoolFileName({ service: 'web', port: 8080, host: '127.0.0.1' }), 'web:8080')
  assert.equal(spoolFileName({ service: 'web', port: 8080, host: '10.0.0.5' }), 'web:10.0.0.5:8080')
  assert.equal(spoolFileName({ service: 'web', port: 8080, host: 'fd00::1' }), 'web:fd00::1:8080')
  assert.equal(spoolFileName({ service: 'web', host: '10.0.0.5' }), 'web', 'a host without a port names the service')
})

test('file names parse back to keys; temp files and junk do not', () => {
  assert.deepEqual(parseSpoolFileName('web'), { service: 'web' })
  assert.deepEqual(parseSpoolFileName('web:8080'), { service: 'web', port: 8080 })
  assert.deepEqual(parseSpoolFileName('web:10.0.0.5:8080'), { service: 'web', port: 8080, host: '10.0.0.5' })
  assert.deepEqual(parseSpoolFileName('web:fd00::1:8080'), { service: 'web', port: 8080, host: 'fd00::1' })
  for (const junk of ['.web~123~abcd', 'web:', 'web:x', 'web:99999', ':80', '..', '.', 'a b', 'web:0']) {
    assert.equal(parseSpoolFileName(junk), null, junk)
  }
})

test('names that could escape the spool root are refused before touching the disk', async (t) => {
  const parent = await tempDir(t)
  const spool = await Spool.open(join(parent, 'spool'))
  await writeFile(join(parent, 'victim'), 'keep')
  for (const service of ['..', '.', 'a/b', '../victim', '..%2Fvictim', '', 'a\0b', 'web\n']) {
    assert.equal(isValidServiceName(service), false, service)
    await assert.rejects(spool.down({ service }, { reason: 'x' }), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_NAME'))
    await assert.rejects(spool.up({ service }), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_NAME'))
    assert.throws(() => spool.isUp(service), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_NAME'))
  }
  await assert.rejects(spool.down({ service: 'web', port: 80, host: '../../victim' }, { reason: 'x' }), /invalid host/)
  assert.equal(await readFile(join(parent, 'victim'), 'utf8'), 'keep')
  assert.deepEqual(await readdir(join(parent, 'spool')), [])
})

test('contents: JSON fields, legacy text, and JSON that is not an object', () => {
  assert.deepEqual(parseSpoolContents('{"reason": "deploy", "expiration": 2000000000.5, "creation": 1700000000}'),
    { reason: 'deploy', expiration: 2000000000.5, creation: 1700000000, state: 'down' })
  assert.deepEqual(parseSpoolContents('old style reason'), { reason: 'old style reason', expiration: null, creation: null, state: 'down' })
  assert.deepEqual(parseSpoolContents(''), { reason: '', expiration: null, creation: null, state: 'down' })
  assert.deepEqual(parseSpoolContents('123'), { reason: '123', expiration: null, creation: null, state: 'down' })
  assert.deepEqual(parseSpoolContents('{"reason": null}'), { reason: '', expiration: null, creation: null, state: 'down' })
  assert.deepEqual(parseSpoolContents('{"expiration": "tomorrow"}'), { reason: '', expiration: null, creation: null, state: 'down' },
    'an expiration that is not a number never expires: fail closed')
  const round = { reason: 'r', expiration: null, creation: 1.25, state: 'down' as const }
  assert.deepEqual(parseSpoolContents(formatSpoolContents(round)), round)
})

test('down body: each part only when present, numbers as %f', () => {
  const key = { service: 'web' }
  assert.equal(describeDown({ key, file: 'web', reason: 'maintenance', creation: 1700000000.5, expiration: 1800000000, state: 'down' }),
    'Service web in down state since 1700000000.500000 until 1800000000.000000: maintenance')
  assert.equal(describeDown({ key, file: 'web', reason: '', creation: null, expiration: null, state: 'down' }), 'Service web in down state')
  assert.equal(describeDown({ key: { service: 'all' }, file: 'all', reason: 'x', creation: null, expiration: null, state: 'down' }),
    'Service all in down state: x')
})

test('isUp: all, then service, then service:port; the first down file wins', async (t) => {
  const spool = await tempSpool(t)
  assert.deepEqual(spool.isUp('web', 80), { up: true })
  await spool.down({ service: 'web', port: 80 }, { reason: 'port' })
  let state = spool.isUp('web', 80)
  assert.ok(!state.up && state.entry.reason === 'port' && state.entry.key.port === 80)
  assert.deepEqual(spool.isUp('web', 81), { up: true })
  assert.deepEqual(spool.isUp('web', 0), { up: true }, 'port 0 is the whole service')
  await spool.down({ service: 'web' }, { reason: 'service' })
  state = spool.isUp('web', 80)
  assert.ok(!state.up && state.entry.reason === 'service')
  await spool.down({ service: 'all' }, { reason: 'host' })
  state = spool.isUp('web', 80)
  assert.ok(!state.up && state.entry.reason === 'host' && state.entry.key.service === 'all')
  state = spool.isUp('other')
  assert.ok(!state.up && state.entry.reason === 'host')
  await spool.up({ service: 'all' })
  await spool.up({ service: 'web' })
  await spool.up({ service: 'web', port: 80 })
  assert.deepEqual(spool.isUp('web', 80), { up: true })
})

test('isUp with a remote host reads svc:host:port, not svc:port', async (t) => {
  const spool = await tempSpool(t)
  await spool.down({ service: 'web', port: 80, host: '10.1.2.3' }, { reason: 'remote' })
  assert.deepEqual(spool.isUp('web', 80), { up: true })
  const state = spool.isUp('web', 80, '10.1.2.3')
  assert.ok(!state.up && state.entry.file === 'web:10.1.2.3:80')
})

test('an expired file counts as up and is deleted; a future one is down', async (t) => {
  let now = 1000
  const spool = await tempSpool(t, () => now)
  await spool.down({ service: 'web' }, { reason: 'brb', expiration: 1500 })
  assert.equal((spool.isUp('web')).up, false)
  now = 1501
  assert.deepEqual(spool.isUp('web'), { up: true })
  assert.deepEqual(await readdir(spool.root), [])
})

test('an expired file rewritten meanwhile is not deleted', async (t) => {
  let now = 1000
  const spool = await tempSpool(t, () => now)
  await spool.down({ service: 'web' }, { reason: 'old', expiration: 1500 })
  now = 2000
  // Simulate hadown landing between the read and the delete: the file read is stale.
  const path = join(spool.root, 'web')
  const stale = await readFile(path, 'utf8')
  await spool.down({ service: 'web' }, { reason: 'new' })
  removeIfUnchanged(path, stale)
  const state = spool.isUp('web')
  assert.ok(!state.up && state.entry.reason === 'new')
  assert.deepEqual(await readdir(spool.root), ['web'])
})

test('re-downing with the same reason keeps creation; another reason resets it', async (t) => {
  let now = 100
  const spool = await tempSpool(t, () => now)
  await spool.down({ service: 'web' }, { reason: 'deploy' })
  now = 200
  const again = await spool.down({ service: 'web' }, { reason: 'deploy', expiration: 900 })
  assert.equal(again.creation, 100)
  assert.equal(again.expiration, 900)
  now = 300
  const other = await spool.down({ service: 'web' }, { reason: 'other' })
  assert.equal(other.creation, 300)
})

test('a legacy file is down with its whole content as reason', async (t) => {
  const spool = await tempSpool(t)
  await writeFile(join(spool.root, 'web'), 'pulled by ops')
  const state = spool.isUp('web')
  assert.ok(!state.up)
  assert.equal(describeDown(state.entry), 'Service web in down state: pulled by ops')
})

test('a spool entry that is not a regular file is down (fail closed)', async (t) => {
  const spool = await tempSpool(t)
  await mkdir(join(spool.root, 'web'))
  const state = spool.isUp('web')
  assert.ok(!state.up)
  assert.equal(state.entry.reason, 'spool entry web is not a regular file')
})

test('listDown lists every down file sorted, skipping temp files and expired ones', async (t) => {
  let now = 1000
  const spool = await tempSpool(t, () => now)
  await spool.down({ service: 'web' }, { reason: 'a' })
  await spool.down({ service: 'all' }, { reason: 'b' })
  await spool.down({ service: 'db', port: 3306, host: '10.0.0.2' }, { reason: 'c' })
  await spool.down({ service: 'gone' }, { reason: 'd', expiration: 1001 })
  await writeFile(join(spool.root, '.web~1~abc'), 'half')
  now = 2000
  const files = (await spool.listDown()).map((e) => e.file)
  assert.deepEqual(files, ['all', 'db:10.0.0.2:3306', 'web'])
})

test('writes are atomic: concurrent readers never see a partial file, no temp file remains', async (t) => {
  const spool = await tempSpool(t)
  const reason = 'x'.repeat(60 * 1024) // many blocks, under the 64 KiB a reader accepts
  const flag = { stop: false }
  const reader = (async () => {
    let reads = 0
    while (!flag.stop) {
      const state = spool.status({ service: 'web' })
      if (!state.up) assert.ok(state.entry.reason === reason || state.entry.reason === 'short', 'partial file seen')
      reads++
      // A lookup that finds no file completes without I/O (a stat), so yield to let the writer run.
      await new Promise(setImmediate)
    }
    return reads
  })()
  for (let i = 0; i < 200; i++) await spool.down({ service: 'web' }, { reason: i % 2 === 0 ? reason : 'short' })
  flag.stop = true
  assert.ok(await reader > 0)
  assert.deepEqual(await readdir(spool.root), ['web'])
})

test('a failed write leaves the previous file intact and no temp file', async (t) => {
  const spool = await tempSpool(t)
  await spool.down({ service: 'web' }, { reason: 'before' })
  // A "root" that is a regular file fails every write, for root and other users alike.
  const broken = new Spool(join(spool.root, 'web'))
  await assert.rejects(broken.down({ service: 'x' }, { reason: 'y' }), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_WRITE'))
  assert.deepEqual(await readdir(spool.root), ['web'])
  const state = spool.isUp('web')
  assert.ok(!state.up && state.entry.reason === 'before')
})

test('open creates a missing root with mode 0750 (not its parents) and refuses a file', async (t) => {
  const parent = await tempDir(t)
  await assert.rejects(Spool.open(join(parent, 'a', 'spool')), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_ROOT') && /its parent directory does not exist/.test(err.message))
  assert.deepEqual(await readdir(parent), [])
  const root = join(parent, 'spool')
  const spool = await Spool.open(root)
  assert.equal(spool.root, root)
  assert.equal((await stat(root)).mode & 0o777, 0o750)
  await writeFile(join(parent, 'file'), '')
  await assert.rejects(Spool.open(join(parent, 'file')), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_ROOT') && /not a readable directory/.test(err.message))
})

test('a root removed at run time is reported once, and again only after it came back', async (t) => {
  const lines: string[] = []
  const log = { warn: (msg: string) => { lines.push(`warn ${msg}`) }, info: (msg: string) => { lines.push(`info ${msg}`) } }
  let now = 1000
  const spool = await Spool.open(await tempDir(t), { write: true, log, nowSeconds: () => now })
  assert.deepEqual(spool.isUp('web', 80), { up: true })
  await rm(spool.root, { recursive: true })
  assert.deepEqual(spool.isUp('web', 80), { up: true }, 'the answer does not wait for the root check')
  assert.deepEqual(lines, [], 'the root is looked at most once a second')
  for (let i = 0; i < 5; i++) {
    now += 1
    assert.deepEqual(spool.isUp('web', 80), { up: true })
  }
  assert.equal(lines.length, 1)
  assert.match(lines[0] ?? '', /^warn spool root .* is missing: no service counts as down until it is recreated/)
  await spool.down({ service: 'web' }, { reason: 'back' })
  assert.equal((spool.isUp('web')).up, false, 'a recreated root is read at once')
  now += 1
  spool.isUp('web')
  assert.match(lines[1] ?? '', /^info spool root .* is back$/)
  await rm(spool.root, { recursive: true })
  now += 1
  spool.isUp('web')
  now += 1
  spool.isUp('web')
  assert.equal(lines.length, 3)
  assert.match(lines[2] ?? '', /^warn spool root/)
})

test('down recreates a spool root removed at run time; lookups in a missing root are up', async (t) => {
  const spool = await tempSpool(t)
  await rm(spool.root, { recursive: true })
  assert.deepEqual(spool.isUp('web', 80), { up: true })
  assert.deepEqual(await spool.listDown(), [])
  await spool.down({ service: 'web' }, { reason: 'back' })
  assert.equal((spool.isUp('web')).up, false)
})
