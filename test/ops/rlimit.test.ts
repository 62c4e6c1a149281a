import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hasCode } from '../../src/errors.js'
import { parseProcLimits, raiseNofileLimit, readNofileLimit } from '../../src/ops/rlimit.js'

const PROC = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`

test('parseProcLimits reads Max open files', () => {
  assert.deepEqual(parseProcLimits(PROC), { soft: 1024, hard: 524288 })
  assert.deepEqual(parseProcLimits(PROC.replace('1024                 524288', 'unlimited            unlimited')), { soft: Infinity, hard: Infinity })
  assert.equal(parseProcLimits('nothing here'), null)
})

test('not Linux: a clear error, never silently ignored', async () => {
  await assert.rejects(raiseNofileLimit(4096, { platform: 'darwin' }), (err) =>
    hasCode(err, 'HC_ERR_RLIMIT') && /only supported on Linux \(this is darwin\)/.test(err.message))
})

test('a missing prlimit program is named', async (t) => {
  if (process.platform !== 'linux') { t.skip('Linux only'); return }
  const { hard } = await readNofileLimit()
  await assert.rejects(raiseNofileLimit(hard === Infinity ? 1e12 : hard + 1, { prlimit: '/nonexistent/prlimit' }),
    /needs the prlimit program \(util-linux\), which was not found as \/nonexistent\/prlimit/)
})

test('a limit already reached needs no change', async (t) => {
  if (process.platform !== 'linux') { t.skip('Linux only'); return }
  const now = await readNofileLimit()
  const result = await raiseNofileLimit('max', { prlimit: '/nonexistent/prlimit' })
  assert.deepEqual(result, { before: now, after: now })
})
