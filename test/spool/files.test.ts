/**
 * Spool and weight entries are hostile until proven small regular files (issue 10, items 3 and
 * 4): a FIFO, a symlink (to a secret or to /dev/zero), a device, a directory or a huge file is
 * refused at once, down with a reason naming the problem, never its contents.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { hasCode } from '../../src/errors.js'
import { MAX_SPOOL_FILE_BYTES, readSpoolFile } from '../../src/spool/files.js'
import { SpoolWeights, WEIGHT_DIR } from '../../src/spool/weight.js'
import { bytesReadByProcess, tempDir, tempSpool, untilSettled } from '../helper.js'

function mkfifo (path: string): void {
  execFileSync('mkfifo', [path])
}

// These reads are synchronous: one that blocked on a FIFO would hang the test for good rather than
// take long, so they assert what was refused and print the time, never bound it.

/** Times a synchronous call, ms. */
function timed<T> (fn: () => T): { value: T, ms: number } {
  const started = performance.now()
  const value = fn()
  return { value, ms: performance.now() - started }
}

test('readSpoolFile: absent, a small file, and each kind of entry that is refused', async (t) => {
  const dir = await tempDir(t)
  assert.deepEqual(readSpoolFile(join(dir, 'none'), 'spool entry none'), { kind: 'absent' })
  await writeFile(join(dir, 'web'), '{"reason": "deploy"}')
  assert.deepEqual(readSpoolFile(join(dir, 'web'), 'spool entry web'), { kind: 'text', text: '{"reason": "deploy"}' })
  mkfifo(join(dir, 'fifo'))
  await mkdir(join(dir, 'dir'))
  await symlink('/dev/zero', join(dir, 'zero'))
  const cases: Array<[string, string]> = [
    ['fifo', 'spool entry fifo is not a regular file'],
    ['dir', 'spool entry dir is not a regular file'],
    ['zero', 'spool entry zero is a symbolic link, not a regular file']
  ]
  for (const [name, reason] of cases) {
    const { value, ms } = timed(() => readSpoolFile(join(dir, name), `spool entry ${name}`))
    assert.deepEqual(value, { kind: 'refused', reason, code: undefined }, name)
    t.diagnostic(`${name}: refused in ${ms.toFixed(1)} ms`)
  }
})

test('a file of exactly 64 KiB is read; one byte more is refused without being read', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'max'), 'r'.repeat(MAX_SPOOL_FILE_BYTES))
  const read = readSpoolFile(join(dir, 'max'), 'spool entry max')
  assert.equal(read.kind === 'text' ? read.text.length : -1, MAX_SPOOL_FILE_BYTES)
  await writeFile(join(dir, 'over'), 'r'.repeat(MAX_SPOOL_FILE_BYTES + 1))
  assert.deepEqual(readSpoolFile(join(dir, 'over'), 'spool entry over'), { kind: 'refused', reason: 'spool entry over is larger than 65536 bytes', code: undefined })
  await truncate(join(dir, 'over'), 100 * 1024 * 1024) // sparse: 100 MB that cost no disk
  const before = bytesReadByProcess()
  const { value, ms } = timed(() => readSpoolFile(join(dir, 'over'), 'spool entry over'))
  const bytes = bytesReadByProcess() - before // includes reading /proc/self/io itself
  assert.equal(value.kind, 'refused')
  assert.ok(bytes < 4096, `${bytes} bytes read`)
  t.diagnostic(`100 MB file: refused in ${ms.toFixed(1)} ms, ${bytes} bytes read`)
})

test('a FIFO named all takes every check down at once, naming the problem; no reader blocks', async (t) => {
  const spool = await tempSpool(t)
  mkfifo(join(spool.root, 'all'))
  const { value: state, ms } = timed(() => spool.isUp('web', 8080))
  assert.ok(!state.up)
  assert.equal(state.entry.reason, 'spool entry all is not a regular file')
  assert.equal(state.entry.file, 'all')
  t.diagnostic(`answered in ${ms.toFixed(1)} ms`)
  const listed = await spool.listDown()
  assert.deepEqual(listed.map((e) => [e.file, e.reason]), [['all', 'spool entry all is not a regular file']])
})

test('a symlink to a secret is down, and the secret is never read into the reason', async (t) => {
  const spool = await tempSpool(t)
  const secret = join(await tempDir(t), 'secret')
  await writeFile(secret, 'root:SECRET-CONTENTS:0:0')
  await symlink(secret, join(spool.root, 'web'))
  await symlink('/dev/zero', join(spool.root, 'zero'))
  for (const service of ['web', 'zero']) {
    const state = spool.isUp(service)
    assert.ok(!state.up)
    assert.equal(state.entry.reason, `spool entry ${service} is a symbolic link, not a regular file`)
    assert.doesNotMatch(JSON.stringify(state), /SECRET/)
  }
})

test('a huge spool file is down with a short reason: nothing of it is read', async (t) => {
  const spool = await tempSpool(t)
  await writeFile(join(spool.root, 'web'), 'x')
  await truncate(join(spool.root, 'web'), 1024 * 1024)
  const before = bytesReadByProcess()
  const state = spool.isUp('web')
  const bytes = bytesReadByProcess() - before
  assert.ok(!state.up)
  assert.equal(state.entry.reason, 'spool entry web is larger than 65536 bytes')
  assert.ok(bytes < 4096, `${bytes} bytes read`)
})

test('the writer refuses a reason readers would refuse', async (t) => {
  const spool = await tempSpool(t)
  await assert.rejects(spool.down({ service: 'web' }, { reason: 'x'.repeat(MAX_SPOOL_FILE_BYTES) }),
    (err: Error) => hasCode(err, 'HC_ERR_SPOOL_WRITE') && /reason is too long/.test(err.message))
  assert.ok(spool.isUp('web').up)
})

test('a FIFO or symlink under @weight/ is refused at once, without the thread pool', async (t) => {
  const spool = await tempSpool(t)
  const weights = new SpoolWeights(spool)
  await weights.set({ service: 'ok' }, 50)
  mkfifo(join(weights.dir, 'web'))
  await symlink('/etc/passwd', join(weights.dir, 'api'))
  // More concurrent reads than libuv has threads (4): none may wait on another. A read blocked
  // on the FIFO would hold its thread for good, so the four after it would never settle.
  const { value: results, ms } = await untilSettled(async () => await Promise.allSettled(Array.from({ length: 8 }, async () => await weights.effective('web'))), '8 reads of a FIFO weight')
  t.diagnostic(`8 concurrent reads refused in ${ms.toFixed(0)} ms`)
  for (const r of results) {
    assert.equal(r.status, 'rejected')
    assert.ok(hasCode(r.reason, 'HC_ERR_SPOOL_WEIGHT'))
    assert.equal((r.reason as Error).message, `weight file ${WEIGHT_DIR}/web is not a regular file`)
  }
  await assert.rejects(weights.get({ service: 'api' }), /weight file @weight\/api is a symbolic link, not a regular file/)
  assert.equal((await weights.get({ service: 'ok' }))?.weight, 50)
})
