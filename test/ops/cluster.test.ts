import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_RESTART_POLICY, restartDelay } from '../../src/ops/cluster.js'

test('restartDelay: at once after a worker that ran a while, then doubling up to the cap', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) => restartDelay(n)), [0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])
  assert.equal(restartDelay(1000), DEFAULT_RESTART_POLICY.maxMs, 'no overflow for a long crash loop')
  assert.equal(restartDelay(3, { baseMs: 10, maxMs: 25, stableMs: 1 }), 25)
})
