/**
 * The spool tools on the fleet, run as built `bin/` programs against a real etcd: `hadown`,
 * `haup` and `haweight` with `--fleet` and `--fleet-host`, `hastatus` and `hashowdowned` showing
 * fleet entries beside local ones with their source, leases for expiries, one transaction per
 * command (all or nothing), credentials only from the config file, and clear failures.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Etcd3, Range } from 'etcd3'
import { startEtcd, type EtcdMember } from '../etcd.js'
import { freePort, runBin, tempDir, waitFor, type RunResult } from '../helper.js'
import { runTool } from './run-tool.js'

interface Tools {
  /** Runs a tool in this process (its `main`, as `bin/` runs it): fast enough to run many. */
  run: (name: string, ...args: string[]) => Promise<RunResult>
  /** The tool's arguments for `runBin` (the built program). */
  argv: (...args: string[]) => Promise<string[]>
  spoolRoot: string
  config: string
  kv: Etcd3
}

async function inProcess (name: string, argv: string[]): Promise<RunResult> {
  return await runTool(name, argv, { SUDO_USER: 'alice' })
}

async function tools (t: TestContext, etcd: EtcdMember | null, config: Record<string, unknown> = {}): Promise<Tools> {
  const dir = await tempDir(t)
  const file = join(dir, 'hacheck.yaml')
  const endpoints = etcd === null ? [`http://127.0.0.1:${await freePort()}`] : [etcd.clientUrl]
  await writeFile(file, JSON.stringify({ fleet_etcd_endpoints: endpoints, fleet_host_name: 'web01', ...config }))
  const spoolRoot = join(dir, 'spool')
  const kv = new Etcd3({ hosts: endpoints })
  t.after(() => { kv.close() })
  const argv = async (...args: string[]): Promise<string[]> => ['-c', file, '--spool-root', spoolRoot, '-p', String(await freePort()), ...args]
  return {
    run: async (name, ...args) => await inProcess(name, await argv(...args)),
    argv,
    spoolRoot,
    config: file,
    kv
  }
}

const ok = (r: RunResult): RunResult => { assert.equal(r.code, 0, r.stderr); return r }
const json = async (kv: Etcd3, key: string): Promise<Record<string, unknown> | null> => {
  const text = await kv.get(key).string()
  return text === null ? null : JSON.parse(text) as Record<string, unknown>
}

test('hadown/haup --fleet: every host\'s key, all services in one command, who set it', async (t) => {
  const etcd = await startEtcd(t)
  const { run, argv, kv } = await tools(t, etcd)
  assert.deepEqual(await runBin('hadown', await argv('--fleet', '-r', 'deploy 42', 'web', 'api'), { SUDO_USER: 'alice' }), { code: 0, stdout: '', stderr: '' }, 'the built program')
  const web = await json(kv, '/hacheck/spool/web')
  assert.equal(web?.reason, 'deploy 42')
  assert.equal(web?.state, 'down')
  assert.equal(web?.expiration, null)
  assert.match(String(web?.set_by), /^alice@/)
  assert.ok(await json(kv, '/hacheck/spool/api') !== null)

  // The same reason again keeps the creation time, as hadown does for files.
  ok(await run('hadown', '--fleet', '-r', 'deploy 42', 'web'))
  assert.equal((await json(kv, '/hacheck/spool/web'))?.creation, web?.creation)
  ok(await run('hadown', '--fleet', '--drain', '-r', 'drain it', '-P', '8080', 'web'))
  assert.equal((await json(kv, '/hacheck/spool/web:8080'))?.state, 'drain')

  ok(await run('haup', '--fleet', 'web', 'api'))
  assert.equal(await json(kv, '/hacheck/spool/web'), null)
  assert.equal(await json(kv, '/hacheck/spool/api'), null)
  assert.ok(await json(kv, '/hacheck/spool/web:8080') !== null, 'haup web does not touch web:8080')
})

test('--fleet-host: one host\'s key, from anywhere; hastatus and hashowdowned show each entry\'s source', async (t) => {
  const etcd = await startEtcd(t)
  const { run, kv } = await tools(t, etcd)
  ok(await run('hadown', '--fleet-host', 'web02', '-r', 'bad disk', 'web'))
  assert.equal((await json(kv, '/hacheck/hosts/web02/spool/web'))?.reason, 'bad disk')
  ok(await run('hadown', '--fleet', '-r', 'everywhere', 'api'))
  ok(await run('hadown', '--fleet-host', 'web01', '--maint', '-r', 'mine', 'api'))
  ok(await run('hadown', '-r', 'local one', 'api'))
  ok(await run('haweight', '--fleet', 'api', '40'))

  const here = await run('hastatus', 'api', 'db')
  assert.equal(here.code, 1)
  const lines = here.stdout.trimEnd().split('\n')
  assert.match(lines[0] ?? '', /^DOWN\tinf\tapi\tlocal one$/, 'the local line first, unchanged')
  assert.equal(lines[1], 'UP\tdb')
  assert.match(lines[2] ?? '', /^DOWN\tinf\tapi\teverywhere\tfleet\talice@/)
  assert.match(lines[3] ?? '', /^MAINT\tinf\tapi\tmine\thost:web01\talice@/)
  assert.match(lines[4] ?? '', /^WEIGHT\t40\tapi\tfleet\talice@/)
  assert.match(lines[5] ?? '', /^FLEET\tunknown\tno hacheck answering/)

  const other = await run('hastatus', '--fleet-host', 'web02', 'web', 'db')
  assert.equal(other.code, 1)
  assert.match(other.stdout, /^DOWN\tinf\tweb\tbad disk\thost:web02\talice@.*\nUP\tdb\tfleet,host:web02\n$/)

  const downed = ok(await run('hashowdowned'))
  assert.match(downed.stdout, /^DOWN\tinf\tapi\tlocal one\nDOWN\tinf\tapi\teverywhere\tfleet\talice@\S+\nMAINT\tinf\tapi\tmine\thost:web01\talice@\S+\n$/)
  const fleet = ok(await run('hashowdowned', '--fleet'))
  assert.match(fleet.stdout, /^DOWN\tinf\tapi\teverywhere\tfleet\t\S+\nMAINT\tinf\tapi\tmine\thost:web01\t\S+\nDOWN\tinf\tweb\tbad disk\thost:web02\t\S+\n$/,
    'the whole fleet\'s record: who took what down, where')

  ok(await run('haup', '--fleet-host', 'web02', 'web'))
  ok(await run('haweight', '--fleet', '--clear', 'api'))
  assert.equal(await json(kv, '/hacheck/hosts/web02/spool/web'), null)
  assert.equal(await json(kv, '/hacheck/weight/api'), null)
})

test('hadown --fleet -e: an expired entry is absent, and etcd removes it through a lease', async (t) => {
  const etcd = await startEtcd(t)
  const { run, kv } = await tools(t, etcd)
  const expiration = Math.floor(Date.now() / 1000) + 1
  ok(await run('hadown', '--fleet', '-r', 'brief', '-e', String(expiration), 'web'))
  const stored = await kv.get('/hacheck/spool/web').exec()
  assert.notEqual(stored.kvs[0]?.lease, '0', 'written on a lease')
  await waitFor(async () => (await json(kv, '/hacheck/spool/web')) === null ? true : undefined, 8000, 'the lease to end')
  assert.equal(ok(await run('hashowdowned', '--fleet')).stdout, '', 'no entry left')
})

test('fleet tools fail clearly with exit 1 when etcd cannot be reached; usage errors exit 2', async (t) => {
  const { run, argv, spoolRoot } = await tools(t, null)
  // The local spool exists (a read-only tool refuses a missing root before asking etcd).
  await mkdir(spoolRoot, { recursive: true })
  const built = await runBin('hadown', await argv('--fleet', '-r', 'x', 'web'))
  assert.equal(built.code, 1)
  assert.match(built.stderr, /^hadown: etcd at http:\/\/127\.0\.0\.1:\d+: .*UNAVAILABLE.*: nothing was written\n$/)
  for (const args of [['hadown', '--fleet', '-r', 'x', 'web'], ['haup', '--fleet', 'web'], ['haweight', '--fleet', 'web', '50'], ['hastatus', 'web'], ['hashowdowned']]) {
    const r = await run(args[0] as string, ...args.slice(1))
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /etcd at http:\/\/127\.0\.0\.1:\d+: .*UNAVAILABLE/, r.stderr)
    if (args[0] === 'hastatus') {
      assert.match(r.stdout, /^UP\tweb\nFLEET\tunknown\t/, 'the local line and the daemon\'s view, then the error')
    } else {
      assert.equal(r.stdout, '')
    }
    if (args[0] !== 'hastatus' && args[0] !== 'hashowdowned') assert.match(r.stderr, /nothing was written/)
  }
  // Local actions with the same -c still work.
  ok(await run('hadown', '-r', 'local', 'web'))
  assert.equal((await runBin('hastatus', ['--spool-root', spoolRoot, 'web'])).stdout, 'DOWN\tinf\tweb\tlocal\n')

  const noFleet = join(await tempDir(t), 'plain.yaml')
  await writeFile(noFleet, 'cache_time: 1\n')
  for (const args of [['--fleet', '-r', 'x', 'web'], ['-c', noFleet, '--fleet', '-r', 'x', 'web'], ['--fleet', '--fleet-host', 'a', 'web'], ['--fleet-host', 'a/b', 'web'], ['--password', 'x', '--fleet', 'web']]) {
    const r = await inProcess('hadown', ['--spool-root', spoolRoot, ...args])
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /usage: hadown/)
  }
})

test('etcd auth: credentials from the config only; a read-only role cannot write; a refused command writes nothing', async (t) => {
  const etcd = await startEtcd(t)
  const root = new Etcd3({ hosts: etcd.clientUrl })
  t.after(() => { root.close() })
  // What README "Fleet" does with etcdctl, through the API (etcdctl is not installed here).
  await (await root.role('root').create()).grant({ permission: 'Readwrite', range: new Range('\0', '\0') })
  await (await root.user('root').create('root-pw')).addRole('root')
  await (await root.role('hacheck-host').create()).grant({ permission: 'Read', range: Range.prefix('/hacheck/') })
  await (await root.role('hacheck-operator').create()).grant({ permission: 'Readwrite', range: Range.prefix('/hacheck/') })
  await (await root.role('web-only').create()).grant({ permission: 'Readwrite', key: '/hacheck/spool/web' })
  await (await root.user('host').create('host-pw')).addRole('hacheck-host')
  await (await root.user('ops').create('ops-pw')).addRole('hacheck-operator')
  await (await root.user('webop').create('webop-pw')).addRole('web-only')
  await root.auth.authEnable()
  const admin = new Etcd3({ hosts: etcd.clientUrl, auth: { username: 'root', password: 'root-pw' } })
  t.after(() => { admin.close() })

  const as = async (username: string, password: string): Promise<Tools> => await tools(t, etcd, { fleet_etcd_username: username, fleet_etcd_password: password })
  ok(await (await as('ops', 'ops-pw')).run('hadown', '--fleet', '-r', 'ops did it', 'api'))
  assert.equal(JSON.parse(await admin.get('/hacheck/spool/api').string() ?? '{}').reason, 'ops did it')

  const host = await as('host', 'host-pw')
  const refused = await host.run('hadown', '--fleet', '-r', 'x', 'web')
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /permission denied.*nothing was written/)
  const read = await host.run('hashowdowned', '--fleet')
  assert.equal(read.code, 0, read.stderr)
  assert.match(read.stdout, /^DOWN\tinf\tapi\tops did it\tfleet\t/, 'the read-only role reads')

  const half = await (await as('webop', 'webop-pw')).run('hadown', '--fleet', '-r', 'both?', 'web', 'cache')
  assert.equal(half.code, 1, 'the role may write web but not cache')
  assert.equal(await admin.get('/hacheck/spool/web').string(), null, 'so neither is written: one transaction')

  const wrong = await (await as('ops', 'not-the-password')).run('hadown', '--fleet', '-r', 'x', 'web')
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /authentication failed|invalid/i)
  assert.ok(!wrong.stderr.includes('not-the-password'), 'the password is never printed')
})
