import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { describeDown, formatSpoolContents, parseSpoolContents } from '../../src/spool/spool.js'
import { tempSpool } from '../helper.js'

test('state: a plain down file is written exactly as the reference writes it (no state key)', async (t) => {
  const spool = await tempSpool(t, () => 1700000000)
  await spool.down({ service: 'web' }, { reason: 'r' })
  assert.equal(await readFile(join(spool.root, 'web'), 'utf8'), '{"reason":"r","expiration":null,"creation":1700000000}')
  await spool.down({ service: 'web' }, { reason: 'r', state: 'drain' })
  assert.deepEqual(JSON.parse(await readFile(join(spool.root, 'web'), 'utf8')), { reason: 'r', expiration: null, creation: 1700000000, state: 'drain' })
})

test('state: drain and maint round-trip; absent, null or unknown states read as down (fail closed)', () => {
  for (const state of ['drain', 'maint', 'down'] as const) {
    const info = { reason: 'x', expiration: 5, creation: 1, state }
    assert.deepEqual(parseSpoolContents(formatSpoolContents(info)), info)
  }
  for (const raw of ['{"reason":"x"}', '{"reason":"x","state":null}', '{"reason":"x","state":"up"}', '{"reason":"x","state":"DRAIN"}', '{"reason":"x","state":3}']) {
    assert.equal(parseSpoolContents(raw).state, 'down', raw)
  }
})

test('state: answer bodies name the state with the reference shape', () => {
  const base = { key: { service: 'web' }, file: 'web', reason: 'deploy', creation: 1700000000.5, expiration: null }
  assert.equal(describeDown({ ...base, state: 'drain' }), 'Service web in drain state since 1700000000.500000: deploy')
  assert.equal(describeDown({ ...base, state: 'maint' }), 'Service web in maint state since 1700000000.500000: deploy')
})

test('state: isUp lets a down or maint file win over a broader drain; ties go to the broader file', async (t) => {
  const spool = await tempSpool(t)
  await spool.down({ service: 'all' }, { reason: 'host drain', state: 'drain' })
  let state = spool.isUp('web', 80)
  assert.ok(!state.up && state.entry.state === 'drain' && state.entry.key.service === 'all')
  await spool.down({ service: 'web', port: 80 }, { reason: 'port maint', state: 'maint' })
  state = spool.isUp('web', 80)
  assert.ok(!state.up && state.entry.state === 'maint' && state.entry.reason === 'port maint', 'maint on a narrower file beats a broader drain')
  state = spool.isUp('web', 81)
  assert.ok(!state.up && state.entry.state === 'drain', 'another port still drains')
  await spool.down({ service: 'web' }, { reason: 'svc drain', state: 'drain' })
  state = spool.isUp('web')
  assert.ok(!state.up && state.entry.reason === 'host drain', 'two drains: the broader one')
  await spool.down({ service: 'all' }, { reason: 'host down' })
  state = spool.isUp('web', 80)
  assert.ok(!state.up && state.entry.state === 'down' && state.entry.reason === 'host down', 'a broader down ends the lookup as in the reference')
})

test('state: re-downing keeps creation only for the same reason and the same state', async (t) => {
  let now = 1000
  const spool = await tempSpool(t, () => now)
  await spool.down({ service: 'web' }, { reason: 'r', state: 'drain' })
  now = 2000
  assert.equal((await spool.down({ service: 'web' }, { reason: 'r', state: 'drain' })).creation, 1000)
  now = 3000
  assert.equal((await spool.down({ service: 'web' }, { reason: 'r', state: 'maint' })).creation, 3000)
})

test('state: listDown reports drain and maint files with their state', async (t) => {
  const spool = await tempSpool(t)
  await spool.down({ service: 'a' }, { reason: 'x', state: 'drain' })
  await spool.down({ service: 'b' }, { reason: 'y', state: 'maint' })
  await writeFile(join(spool.root, 'c'), 'legacy')
  assert.deepEqual((await spool.listDown()).map((e) => [e.file, e.state]), [['a', 'drain'], ['b', 'maint'], ['c', 'down']])
})
