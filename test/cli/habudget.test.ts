/**
 * `habudget` (docs/man/habudget.md): its arguments, and set, show and clear against a real
 * etcd, in this process (the built program is run by the fleet status end-to-end tests).
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { Etcd3 } from 'etcd3'
import { main, parseBudgetArgs } from '../../src/cli/habudget.js'
import { startEtcd } from '../etcd.js'
import { freePort, tempDir, type RunResult } from '../helper.js'

async function run (argv: string[]): Promise<RunResult> {
  let stdout = ''
  let stderr = ''
  const code = await main('habudget', argv, { stdout: (s) => { stdout += s }, stderr: (s) => { stderr += s }, env: { SUDO_USER: 'alice' } })
  return { code, stdout, stderr }
}

test('habudget arguments: a service and N or P%, or --clear; anything else is a usage error', () => {
  assert.deepEqual(parseBudgetArgs(['web', '2']).budget, { count: 2 })
  assert.deepEqual(parseBudgetArgs(['web', '25%']).budget, { percent: 25 })
  assert.equal(parseBudgetArgs(['web']).budget, undefined)
  assert.equal(parseBudgetArgs(['--clear', 'web']).clear, true)
  for (const bad of [[], ['web', '101%'], ['web', '-1'], ['web', 'x'], ['all', '1'], ['web:80', '1'], ['we b', '1'], ['web', '1', '2'], ['--clear', 'web', '1'], ['--nope', 'web']]) {
    assert.throws(() => parseBudgetArgs(bad), { code: 'HC_ERR_USAGE' }, JSON.stringify(bad))
  }
})

test('habudget: set, show, clear through etcd; exit 2 for usage, 1 when etcd cannot be reached', async (t) => {
  const etcd = await startEtcd(t)
  const dir = await tempDir(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, JSON.stringify({ fleet_etcd_endpoints: [etcd.clientUrl] }))
  const kv = new Etcd3({ hosts: [etcd.clientUrl] })
  t.after(() => { kv.close() })

  assert.deepEqual(await run(['-c', config, 'web', '10%']), { code: 0, stdout: '', stderr: '' })
  const stored = JSON.parse(await kv.get('/hacheck/budget/web').string() ?? '{}') as { max_unavailable: string, set_by: string }
  assert.equal(stored.max_unavailable, '10%')
  assert.match(stored.set_by, /^alice@/)
  assert.equal((await run(['-c', config, 'web'])).stdout, 'web\t10%\n')
  await kv.put('/hacheck/budget/api').value('{"max_unavailable": "lots"}')
  assert.match((await run(['-c', config, 'api'])).stdout, /^api\t0\tbudget value is not/, 'a bad value reads as 0, and says why')
  assert.equal((await run(['-c', config, '--clear', 'web'])).code, 0)
  assert.equal((await run(['-c', config, 'web'])).stdout, 'web\tnone\n')

  const usage = await run(['-c', config, 'web', 'many'])
  assert.equal(usage.code, 2)
  assert.match(usage.stderr, /^habudget: the budget must be a host count N or a percentage P% \(0-100\), got "many"\nusage: habudget/)
  const noFleet = join(dir, 'plain.yaml')
  await writeFile(noFleet, '{}')
  assert.equal((await run(['-c', noFleet, 'web', '1'])).code, 2)
  const away = join(dir, 'away.yaml')
  await writeFile(away, JSON.stringify({ fleet_etcd_endpoints: [`http://127.0.0.1:${await freePort()}`] }))
  const unreachable = await run(['-c', away, 'web', '1'])
  assert.equal(unreachable.code, 1)
  assert.match(unreachable.stderr, /^habudget: etcd at http:\/\/127\.0\.0\.1:\d+: /)
})
