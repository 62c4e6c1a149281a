/**
 * The fleet keys: each validated on its own like every key, then together (fleetSettings) and
 * against the disk (TLS files readable), before anything connects.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fleetSettings } from '../../src/config/fleet.js'
import { makeConfig } from '../../src/config/index.js'
import { checkFleetFiles } from '../../src/fleet/watcher.js'
import { runBin, tempDir } from '../helper.js'

test('fleet config: each key is checked, naming the key', () => {
  const bad: Array<[string, unknown]> = [
    ['fleet_etcd_endpoints', ['127.0.0.1:2379']],
    ['fleet_etcd_endpoints', ['http://127.0.0.1:2379/v3']],
    ['fleet_etcd_endpoints', ['ftp://127.0.0.1:2379']],
    ['fleet_etcd_endpoints', []],
    ['fleet_etcd_endpoints', 'http://127.0.0.1:2379'],
    ['fleet_prefix', '/hacheck'],
    ['fleet_prefix', '/hac heck/'],
    ['fleet_host_name', 'web/01'],
    ['fleet_host_name', ''],
    ['fleet_etcd_username', ''],
    ['fleet_etcd_ca_file', 3]
  ]
  for (const [key, value] of bad) {
    assert.throws(() => makeConfig({ [key]: value }), (err: Error) => (err as { code?: string }).code === 'HC_ERR_CONFIG' && err.message.includes(`'${key}'`), `${key}: ${JSON.stringify(value)}`)
  }
  const ok = makeConfig({ fleet_etcd_endpoints: ['http://127.0.0.1:2379/', 'http://[::1]:2379', 'http://etcd-1.example:2379'], fleet_prefix: '/', fleet_host_name: 'web01.example' })
  assert.deepEqual(fleetSettings(ok)?.endpoints, ['http://127.0.0.1:2379', 'http://[::1]:2379', 'http://etcd-1.example:2379'])
})

test('fleet config: no endpoints means no fleet; the host name defaults to the machine\'s', () => {
  assert.equal(fleetSettings(makeConfig()), null)
  assert.equal(fleetSettings(makeConfig({ fleet_etcd_endpoints: ['http://127.0.0.1:2379'] }), 'db07')?.host, 'db07')
  assert.throws(() => fleetSettings(makeConfig({ fleet_etcd_endpoints: ['http://127.0.0.1:2379'] }), 'bad/name'), /set fleet_host_name/)
})

test('fleet config: keys that must go together, and a password sent in clear text off the machine', () => {
  const base = { fleet_etcd_endpoints: ['https://10.0.0.1:2379'] }
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ fleet_etcd_endpoints: ['http://10.0.0.1:2379', 'https://10.0.0.2:2379'] }, /mixes http/],
    [{ fleet_etcd_endpoints: ['http://10.0.0.1:2379'], fleet_etcd_ca_file: '/ca.pem' }, /need https/],
    [{ ...base, fleet_etcd_cert_file: '/c.pem' }, /cert_file and fleet_etcd_key_file go together/],
    [{ ...base, fleet_etcd_username: 'hacheck' }, /username and fleet_etcd_password go together/]
  ]
  for (const [overrides, message] of cases) assert.throws(() => fleetSettings(makeConfig(overrides)), message)
  const clear = fleetSettings(makeConfig({ fleet_etcd_endpoints: ['http://10.0.0.1:2379'], fleet_etcd_username: 'u', fleet_etcd_password: 'secret-pw' }))
  assert.match(clear?.warnings.join() ?? '', /plain http/)
  assert.ok(!(clear?.warnings.join() ?? '').includes('secret-pw'))
  const local = fleetSettings(makeConfig({ fleet_etcd_endpoints: ['http://127.0.0.1:2379'], fleet_etcd_username: 'u', fleet_etcd_password: 'p' }))
  assert.deepEqual(local?.warnings, [])
})

test('fleet config: TLS files must be readable, named in the error', async () => {
  await assert.rejects(checkFleetFiles(makeConfig({ fleet_etcd_endpoints: ['https://127.0.0.1:2379'], fleet_etcd_ca_file: '/nonexistent/ca.pem' })),
    (err: Error) => (err as { code?: string }).code === 'HC_ERR_CONFIG' && /fleet_etcd_ca_file \/nonexistent\/ca.pem cannot be read/.test(err.message))
  await checkFleetFiles(makeConfig())
})

test('hacheck: a fleet config that does not hold stops start-up with exit 2, naming the key', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'hacheck.yaml')
  await writeFile(file, JSON.stringify({ fleet_etcd_endpoints: ['https://127.0.0.1:2379'], fleet_etcd_cert_file: join(dir, 'missing.pem'), fleet_etcd_key_file: join(dir, 'missing.key') }))
  const r = await runBin('hacheck', ['-c', file, '--spool-root', join(dir, 'spool'), '-B', '127.0.0.1', '-p', '0'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /fleet_etcd_cert_file .*missing\.pem cannot be read/)
})
