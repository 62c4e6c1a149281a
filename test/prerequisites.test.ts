/**
 * Every prerequisite of the suite, checked up front: a missing one fails here with one line
 * naming it and how `.ci/run` provides it (the tests that use it fail too, but this says why).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MissingPrerequisite, PREREQUISITES, needs } from './prerequisites.js'

for (const p of PREREQUISITES) {
  test(`prerequisite: ${p.name}`, async () => {
    const missing = await p.check()
    if (missing !== null) throw new MissingPrerequisite(p, missing)
  })
}

test('a missing prerequisite is reported in one line naming it, not a bare ECONNREFUSED', async () => {
  const p = { name: 'Example on 127.0.0.1:1', provide: '.ci/run provides it', check: async () => null }
  const err = await needs(p, async () => { throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) })
    .then(() => null, (e: unknown) => e as Error)
  assert.ok(err instanceof MissingPrerequisite)
  assert.equal(err.message, 'missing test prerequisite: Example on 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1 (.ci/run provides it; see README "Tests")')
  assert.equal(err.stack?.split('\n').length, 1)
})
