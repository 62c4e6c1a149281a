import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runBin, tempDir } from '../helper.js'

test('hadown --drain / --maint write the state; hastatus prints DRAIN / MAINT in the DOWN shape, exit 1', async (t) => {
  const root = await tempDir(t)
  let r = await runBin('hadown', ['--drain', '-r', 'deploy', '--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''])
  assert.equal(JSON.parse(await readFile(join(root, 'web'), 'utf8')).state, 'drain')
  r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [1, 'DRAIN\tinf\tweb\tdeploy\n'])
  r = await runBin('hadown', ['--maint', '-r', 'kernel', '-e', '4102444800', '-P', '8080', '--spool-root', root, 'web'])
  assert.equal(r.code, 0)
  r = await runBin('hastatus', ['-P', '8080', '--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [1, 'MAINT\t4102444800.000000\tweb::8080\tkernel\n'])
  r = await runBin('hadown', ['-r', 'plain', '--spool-root', root, 'api'])
  r = await runBin('hashowdowned', ['--spool-root', root])
  assert.deepEqual([r.code, r.stdout], [0, 'DOWN\tinf\tapi\tplain\nDRAIN\tinf\tweb\tdeploy\nMAINT\t4102444800.000000\tweb::8080\tkernel\n'])
  r = await runBin('haup', ['--spool-root', root, 'web'])
  r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [0, 'UP\tweb\n'], 'haup removes a drain file like a down file')
})

test('haweight sets and clears a weight; hastatus adds a WEIGHT line, hashowdowned does not', async (t) => {
  const root = await tempDir(t)
  let r = await runBin('haweight', ['--spool-root', root, 'web', 'api', '50'])
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''])
  assert.deepEqual(await readdir(root), ['@weight'], 'nothing the reference would read as down')
  r = await runBin('hastatus', ['--spool-root', root, 'web', 'api'])
  assert.deepEqual([r.code, r.stdout], [0, 'UP\tweb\nWEIGHT\t50\tweb\nUP\tapi\nWEIGHT\t50\tapi\n'], 'a weight alone is still up')
  await runBin('hadown', ['-r', 'x', '--spool-root', root, 'web'])
  await runBin('haweight', ['--spool-root', root, 'web', '75%'])
  r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [1, 'DOWN\tinf\tweb\tx\nWEIGHT\t75\tweb\n'])
  r = await runBin('hashowdowned', ['--spool-root', root])
  assert.deepEqual([r.code, r.stdout], [0, 'DOWN\tinf\tweb\tx\n'])
  r = await runBin('haweight', ['--clear', '--spool-root', root, 'web', 'api'])
  assert.equal(r.code, 0)
  r = await runBin('hastatus', ['--spool-root', root, 'api'])
  assert.deepEqual([r.code, r.stdout], [0, 'UP\tapi\n'])
  r = await runBin('hadown', ['-a', 'weight', '--spool-root', root, 'db', '0'])
  assert.equal(r.code, 0, '-a weight works from any of the names')
  assert.equal((await runBin('hastatus', ['--spool-root', root, 'db'])).stdout, 'UP\tdb\nWEIGHT\t0\tdb\n')
})

test('usage errors for the new flags exit 2', async (t) => {
  const root = await tempDir(t)
  for (const [name, args] of [
    ['hadown', ['--drain', '--maint', 'web']],
    ['haup', ['--drain', 'web']],
    ['hastatus', ['--clear', 'web']],
    ['haweight', ['web']],
    ['haweight', ['50']],
    ['haweight', ['web', '257']],
    ['haweight', ['web', '5.5']],
    ['haweight', ['web', 'half']]
  ] as const) {
    const r = await runBin(name, ['--spool-root', root, ...args])
    assert.equal(r.code, 2, `${name} ${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /usage: /)
  }
})
