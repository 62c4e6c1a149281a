import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { hasCode } from '../../src/errors.js'
import { SpoolWeights, WEIGHT_DIR, parseWeightContents } from '../../src/spool/weight.js'
import { tempSpool } from '../helper.js'

test('weights live in @weight/<spool file name>, never in the spool root the reference reads', async (t) => {
  const spool = await tempSpool(t, () => 1700000000)
  const weights = new SpoolWeights(spool)
  await weights.set({ service: 'web' }, 50)
  await weights.set({ service: 'web', port: 8080 }, 75)
  assert.deepEqual(await readdir(spool.root), [WEIGHT_DIR])
  assert.deepEqual((await readdir(join(spool.root, WEIGHT_DIR))).sort(), ['web', 'web:8080'])
  assert.deepEqual(JSON.parse(await readFile(join(spool.root, WEIGHT_DIR, 'web'), 'utf8')), { weight: 50, creation: 1700000000 })
  assert.deepEqual(spool.isUp('web', 8080), { up: true }, 'a weight is not a down file')
  assert.deepEqual(await spool.listDown(), [], 'the weight directory is not listed as down')
})

test('effective weight: the lowest of all, service and service:port', async (t) => {
  const spool = await tempSpool(t)
  const weights = new SpoolWeights(spool)
  assert.equal(await weights.effective('web', 80), null)
  await weights.set({ service: 'web' }, 80)
  assert.equal((await weights.effective('web', 80))?.weight, 80)
  await weights.set({ service: 'web', port: 80 }, 120)
  assert.equal((await weights.effective('web', 80))?.weight, 80, 'a narrower level cannot raise a broader one')
  await weights.set({ service: 'all' }, 30)
  const entry = await weights.effective('web', 80)
  assert.deepEqual([entry?.weight, entry?.file], [30, 'all'])
  assert.equal((await weights.effective('api'))?.weight, 30)
  await weights.clear({ service: 'all' })
  await weights.clear({ service: 'all' })
  assert.equal((await weights.effective('web', 81))?.weight, 80)
  assert.deepEqual((await weights.list()).map((w) => [w.file, w.weight]), [['web', 80], ['web:80', 120]])
})

test('weights are integers 0-256; bad files throw HC_ERR_SPOOL_WEIGHT (the agent answers down)', async (t) => {
  const spool = await tempSpool(t)
  const weights = new SpoolWeights(spool)
  for (const bad of [-1, 257, 1.5, Number.NaN]) {
    await assert.rejects(weights.set({ service: 'web' }, bad), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_WEIGHT'), String(bad))
  }
  assert.equal((await weights.set({ service: 'web' }, 0)).weight, 0)
  assert.equal((await weights.set({ service: 'web' }, 256)).weight, 256)
  for (const text of ['', 'fifty', '{"weight": "50"}', '{"weight": 300}', '[50]']) {
    assert.throws(() => parseWeightContents(text), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_WEIGHT'), text)
  }
  await mkdir(join(spool.root, WEIGHT_DIR), { recursive: true })
  await writeFile(join(spool.root, WEIGHT_DIR, 'api'), 'garbage')
  await assert.rejects(weights.effective('api'), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_WEIGHT') && /@weight\/api/.test(err.message))
  await assert.rejects(weights.set({ service: '../x' }, 5), (err: Error) => hasCode(err, 'HC_ERR_SPOOL_NAME'))
})
