/**
 * Temp files left by killed writers (issue 10, item 10): `hadown` killed between its write and
 * its rename leaves `.<name>~<pid>~<hex>`; the next write or listing of the spool removes those
 * older than a minute, and leaves fresh ones (a writer at work) and everything else alone.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { isTempFileName, removeStaleTempFiles } from '../../src/spool/files.js'
import type { Spool } from '../../src/spool/spool.js'
import { SpoolWeights } from '../../src/spool/weight.js'
import { bin, runBin, tempDir, tempSpool } from '../helper.js'

/** Writes `name` in `dir`, last modified `ageSeconds` ago. */
async function aged (dir: string, name: string, ageSeconds: number): Promise<void> {
  await writeFile(join(dir, name), 'half')
  const when = Date.now() / 1000 - ageSeconds
  await utimes(join(dir, name), when, when)
}

async function litter (dir: string): Promise<void> {
  await aged(dir, '.web~4242~a1b2c3d4e5f6', 120) // stale temp of a killed hadown
  await aged(dir, 'web~expired~a1b2c3d4e5f6', 120) // stale aside of an interrupted expiry
  await aged(dir, '.api~4243~0123456789ab', 5) // a writer at work
  await aged(dir, 'notes.txt~', 120) // not ours
}

const AFTER = ['.api~4243~0123456789ab', 'notes.txt~']

test('temp file names: ours and only ours', () => {
  for (const name of ['.web~123~abcdef', '.web:8080~1~00', '.web:10.0.0.5:8080~99~ff', 'web~expired~abc123']) assert.ok(isTempFileName(name), name)
  for (const name of ['web', '.web', 'web~', '.web~x~ab', '.web~12~XYZ', 'notes.txt~', '~expired~ab']) assert.ok(!isTempFileName(name), name)
})

test('removeStaleTempFiles removes only temp files older than a minute', async (t) => {
  const dir = await tempDir(t)
  await litter(dir)
  assert.equal(await removeStaleTempFiles(dir), 2)
  assert.deepEqual((await readdir(dir)).sort(), AFTER)
})

const actions: Array<[string, (spool: Spool) => Promise<unknown>]> = [
  ['down', async (spool) => await spool.down({ service: 'db' }, { reason: 'x' })],
  ['up', async (spool) => { await spool.up({ service: 'db' }) }],
  ['listDown', async (spool) => await spool.listDown()]
]
for (const [name, action] of actions) {
  test(`spool ${name} sweeps stale temp files from the root`, async (t) => {
    const spool = await tempSpool(t)
    await litter(spool.root)
    await action(spool)
    assert.deepEqual((await readdir(spool.root)).filter((f) => f !== 'db').sort(), AFTER)
  })
}

test('weights set, clear and list sweep the weight directory', async (t) => {
  const spool = await tempSpool(t)
  const weights = new SpoolWeights(spool)
  for (const action of [async () => await weights.set({ service: 'db' }, 10), async () => { await weights.clear({ service: 'db' }) }, async () => await weights.list()]) {
    await weights.set({ service: 'seed' }, 1)
    await litter(weights.dir)
    await action()
    assert.deepEqual((await readdir(weights.dir)).filter((f) => f !== 'db' && f !== 'seed').sort(), AFTER)
  }
})

test('hadown killed with SIGKILL leaves nothing that the next hadown does not clean up', async (t) => {
  const spool = await tempSpool(t)
  // Killed mid-write (as the issue saw 3 of 20 times): simulate its left-over, then run the tool.
  const killed = spawn(process.execPath, [bin('hadown'), '--spool-root', spool.root, '-r', 'x', 'web'], { stdio: 'ignore' })
  killed.kill('SIGKILL')
  await new Promise((resolve) => killed.once('exit', resolve))
  await aged(spool.root, `.web~${killed.pid ?? 1}~deadbeef0001`, 120)
  const r = await runBin('hadown', ['--spool-root', spool.root, '-r', 'again', 'api'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual((await readdir(spool.root)).filter((f) => f.startsWith('.')), [])
})
