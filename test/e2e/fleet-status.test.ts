/**
 * Fleet status and disruption budgets end to end (docs/fleet.md "Fleet status", "Disruption
 * budgets"): a real etcd, three built `bin/hacheck` hosts that publish what they answer, and
 * the built tools reading it and writing past (or not past) a budget.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test, type TestContext } from 'node:test'
import { Etcd3 } from 'etcd3'
import { startEtcd } from '../etcd.js'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, runBin, tempDir, waitFor, type RunResult } from '../helper.js'
import { codeOf, startFleetHosts, toolConfig, type FleetHost } from './fleet.js'
import { startHacheckProcess } from './hacheck-process.js'

interface FleetJson { services: Array<{ service: string, hosts: number, up: number, down: number, failing: number, invalid: number }>, hosts?: Array<{ host: string, state: string, reason: string }> }

async function fleetJson (host: FleetHost, service?: string): Promise<FleetJson> {
  const res = await fetch(host.proc.url(`/fleet.json${service === undefined ? '' : `?service=${service}`}`), { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 200)
  return await res.json() as FleetJson
}

interface Setup {
  hosts: FleetHost[]
  tool: (name: string, ...args: string[]) => Promise<RunResult>
  kv: Etcd3
  endpoints: string[]
  etcdStop: () => Promise<void>
  etcdStart: () => Promise<void>
}

async function setup (t: TestContext): Promise<Setup> {
  const etcd = await startEtcd(t)
  const hosts = await startFleetHosts(t, [etcd.clientUrl], ['h1', 'h2', 'h3'], { fleet_status_ttl: 2, allow_remote_spool_changes: true })
  const config = await toolConfig(t, [etcd.clientUrl])
  const kv = new Etcd3({ hosts: [etcd.clientUrl] })
  t.after(() => { kv.close() })
  // Each host answers web once, so each has something to publish.
  for (const h of hosts) assert.equal(await codeOf(h, 'web'), 200)
  const tool = async (name: string, ...args: string[]): Promise<RunResult> => await runBin(name, ['-c', config, ...args], { SUDO_USER: 'alice' })
  await waitFor(async () => (await fleetJson(hosts[0] as FleetHost, 'web')).hosts?.length === 3 ? true : undefined, 10000, 'every host to publish web')
  return { hosts, tool, kv, endpoints: [etcd.clientUrl], etcdStop: async () => { await etcd.kill() }, etcdStart: async () => { await etcd.start() } }
}

test('fleet status: a local hadown shows on every reader, a failing upstream as failing, a killed host goes with its lease; hostile records read as invalid', async (t) => {
  const { hosts, tool, kv } = await setup(t)
  const [h1, h2, h3] = hosts as [FleetHost, FleetHost, FleetHost]

  const down = await runBin('hadown', ['--spool-root', h2.proc.spoolRoot, '-r', 'bad disk', 'web'], { SUDO_USER: 'alice' })
  assert.equal(down.code, 0, down.stderr)
  const since = performance.now()
  await waitFor(async () => JSON.parse(await kv.get('/hacheck/status/web/h2').string() ?? '{}').state === 'down' ? true : undefined, 10000, 'h2 to publish down')
  const publishedMs = performance.now() - since
  const seen = await waitFor(async () => {
    const r = await tool('hastatus', '--fleet', 'web')
    return /^DOWN\th2\t503\t\d+s\tbad disk$/m.test(r.stdout) ? r : undefined
  }, 10000, 'h2 to show down')
  t.diagnostic(`hadown on h2 returned -> its record in etcd: ${Math.round(publishedMs)} ms (the spool is scanned once a second); -> hastatus --fleet web (a fresh process) printed it: ${Math.round(performance.now() - since)} ms`)
  assert.equal(seen.code, 1, 'a host not up: exit 1')
  assert.match(seen.stdout, /^UP\th1\t200\t/m)
  assert.match(seen.stdout, /^web: 3 hosts, 2 up, 1 down$/m)
  // The server's reader keeps an answer one second: wait for the next read.
  const web = await waitFor(async () => { const j = await fleetJson(h1, 'web'); return j.hosts?.[1]?.state === 'down' ? j : undefined }, 5000, '/fleet.json to show h2 down')
  assert.deepEqual(web.hosts?.map((h) => [h.host, h.state]), [['h1', 'up'], ['h2', 'down'], ['h3', 'up']], '/fleet.json says the same')
  assert.equal(web.hosts?.[1]?.reason, 'bad disk')

  // An upstream that refuses connections: failing.
  const closed = await freePort()
  await (await fetch(h1.proc.url(`/tcp/api/${closed}/`))).arrayBuffer()
  await waitFor(async () => /^FAILING\th1\t503\t/m.test((await tool('hastatus', '--fleet', 'api')).stdout) ? true : undefined, 10000, 'api failing on h1')
  const overview = await tool('hastatus', '--fleet')
  assert.match(overview.stdout, /^api: 1 host, 0 up, 1 failing$/m)
  assert.match(overview.stdout, /^web: 3 hosts, 2 up, 1 down$/m)

  // Hostile records written by someone else: shown as invalid, never a crash.
  await kv.put('/hacheck/status/web/evil').value('not json {')
  await kv.put('/hacheck/status/web/huge').value('x'.repeat(100000))
  await kv.put('/hacheck/status/web/liar').value(JSON.stringify({ state: 'up', code: 'two hundred', since: 1, confirmed: 1 }))
  await kv.put('/hacheck/status/we b/../x').value('{}')
  const hostile = await tool('hastatus', '--fleet', 'web')
  assert.equal(hostile.code, 1, hostile.stderr)
  assert.match(hostile.stdout, /^INVALID\tevil\t0\t\?\tinvalid record: not JSON$/m)
  assert.match(hostile.stdout, /^INVALID\thuge\t0\t\?\tinvalid record: value of 100000 bytes is over/m)
  assert.match(hostile.stdout, /^INVALID\tliar\t/m)
  assert.match(hostile.stdout, /^web: 6 hosts, 2 up, 1 down, 3 invalid$/m)
  assert.match((await tool('hastatus', '--fleet')).stdout, /^we b: 1 host, 0 up, 1 invalid$/m)
  await new Promise((resolve) => setTimeout(resolve, 1100)) // past the reader's one-second cache
  assert.equal((await fleetJson(h1, 'web')).services[0]?.invalid, 3)
  await kv.delete().prefix('/hacheck/status/we')

  // SIGKILL: no goodbye; the records go when the lease (2 s) ends.
  const killedAt = performance.now()
  await h3.proc.kill('SIGKILL')
  await waitFor(async () => (await fleetJson(h1, 'web')).hosts?.some((h) => h.host === 'h3') === false ? true : undefined, 15000, 'h3 records to go')
  t.diagnostic(`h3 killed -> its records gone: ${Math.round(performance.now() - killedAt)} ms (lease TTL 2 s)`)
})

test('disruption budget: one out at a time, refused with exit 3 naming who is out, --force recorded; fleet-wide needs --force; concurrent writers cannot both pass', async (t) => {
  const { hosts, tool, kv, endpoints } = await setup(t)
  const h3 = hosts[2] as FleetHost
  const json = async (key: string): Promise<Record<string, unknown> | null> => JSON.parse(await kv.get(key).string() ?? 'null') as Record<string, unknown> | null

  assert.equal((await tool('habudget', 'web', '1')).code, 0)
  assert.equal((await tool('habudget', 'web')).stdout, 'web\t1\n')
  const first = await tool('hadown', '--fleet-host', 'h1', '--drain', '-r', 'deploy', 'web')
  assert.equal(first.code, 0, first.stderr)
  const second = await tool('hadown', '--fleet-host', 'h2', '-r', 'deploy', 'web')
  assert.equal(second.code, 3, second.stderr)
  // h1 counts by its entry, or by its published drain once it has published it.
  assert.match(second.stderr, /disruption budget of web is 1: taking h2 out would pass it; already out: h1 (fleet entry hosts\/h1\/spool\/web|drain \(deploy\))\. Nothing was written/)
  assert.equal(await json('/hacheck/hosts/h2/spool/web'), null, 'nothing written')
  const allOnHost = await tool('hadown', '--fleet-host', 'h2', '-r', 'deploy', 'all')
  assert.equal(allOnHost.code, 3, '`all` on a host counts for every budgeted service')
  assert.equal(await json('/hacheck/hosts/h2/spool/all'), null)
  const forced = await tool('hadown', '--fleet-host', 'h2', '--force', '-r', 'deploy', 'web')
  assert.equal(forced.code, 0, forced.stderr)
  assert.equal((await json('/hacheck/hosts/h2/spool/web'))?.forced, true)
  assert.match(String((await json('/hacheck/hosts/h2/spool/web'))?.set_by), /^alice@/)

  // A remote POST on a host with a fleet is checked too: 409 naming who is out; force=1 overrides.
  const post = async (body: string): Promise<{ status: number, text: string }> => {
    const res = await fetch(h3.proc.url('/spool/web/0/'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    return { status: res.status, text: await res.text() }
  }
  const refusedPost = await post('status=down&reason=remote')
  assert.equal(refusedPost.status, 409)
  assert.match(refusedPost.text, /disruption budget of web is 1: taking h3 out would pass it; already out: h1 /)
  assert.equal((await post('status=down&reason=remote&force=1')).status, 200)
  assert.equal((await post('status=up')).status, 200)

  // A local hadown on h3 (its config names the fleet) consults the budget too.
  const h3config = join(await tempDir(t), 'h3.yaml')
  await writeFile(h3config, JSON.stringify({ fleet_etcd_endpoints: endpoints, fleet_host_name: 'h3' }))
  const local = await runBin('hadown', ['-c', h3config, '--spool-root', h3.proc.spoolRoot, '-r', 'local', 'web'])
  assert.equal(local.code, 3, local.stderr)
  assert.match(local.stderr, /already out: h1 /)
  assert.equal(await codeOf(h3, 'web'), 200, 'no file written')
  assert.equal((await runBin('hadown', ['-c', h3config, '--spool-root', h3.proc.spoolRoot, '--force', '-r', 'local', 'web'])).code, 0)
  assert.equal(await codeOf(h3, 'web'), 503)
  assert.equal((await runBin('haup', ['-c', h3config, '--spool-root', h3.proc.spoolRoot, 'web'])).code, 0)

  // Fleet-wide: a budgeted service, and `all`, need --force.
  const wide = await tool('hadown', '--fleet', '-r', 'x', 'web')
  assert.equal(wide.code, 3)
  assert.match(wide.stderr, /hadown --fleet web \(a disruption budget is set\) takes every host out at once/)
  assert.equal((await tool('hadown', '--fleet', '-r', 'x', 'all')).code, 3)
  assert.equal(await json('/hacheck/spool/all'), null)
  assert.equal((await tool('hadown', '--fleet', '--force', '-r', 'x', 'all')).code, 0)
  assert.equal((await json('/hacheck/spool/all'))?.forced, true)
  assert.equal((await tool('haup', '--fleet', 'all')).code, 0)
  for (const h of ['h1', 'h2']) assert.equal((await tool('haup', '--fleet-host', h, 'web')).code, 0)
  await waitFor(async () => /^web: 3 hosts, 3 up$/m.test((await tool('hastatus', '--fleet', 'web')).stdout) ? true : undefined, 15000, 'web all up again')

  // Two writers at once for two hosts (h4, h5: entries count even for hosts that publish
  // nothing) with budget 1: exactly one wins, every time.
  const rounds = 20
  const started = performance.now()
  for (let i = 0; i < rounds; i++) {
    const [a, b] = await Promise.all(['h4', 'h5'].map(async (h) => await tool('hadown', '--fleet-host', h, '-r', `round ${i}`, 'web')))
    const codes = [a?.code, b?.code].sort()
    assert.deepEqual(codes, [0, 3], `round ${i}: exactly one wins (${a?.stderr ?? ''} ${b?.stderr ?? ''})`)
    const written = [await json('/hacheck/hosts/h4/spool/web'), await json('/hacheck/hosts/h5/spool/web')].filter((v) => v !== null)
    assert.equal(written.length, 1, `round ${i}: one entry`)
    await kv.delete().prefix('/hacheck/hosts/')
  }
  t.diagnostic(`${rounds} rounds of two concurrent hadown --fleet-host: ${Math.round(performance.now() - started)} ms`)
})

test('etcd away: checks unaffected, budget-checked writes refused, publishing resumes with a full re-publish', async (t) => {
  const { hosts, tool, kv, etcdStop, etcdStart } = await setup(t)
  const h1 = hosts[0] as FleetHost
  assert.equal((await tool('habudget', 'web', '1')).code, 0)
  await etcdStop()
  assert.equal(await codeOf(h1, 'web'), 200, 'checks answer without etcd')
  const post = async (body: string): Promise<{ status: number, text: string }> => {
    const res = await fetch(h1.proc.url('/spool/web/0/'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    return { status: res.status, text: await res.text() }
  }
  const unknown = await post('status=down&reason=remote')
  assert.equal(unknown.status, 409, 'a remote POST with the budget unknown is refused')
  assert.match(unknown.text, /^disruption budget unknown: etcd at /)
  assert.equal((await post('status=down&reason=remote&force=1')).status, 200)
  const down = await runBin('hadown', ['--spool-root', h1.proc.spoolRoot, '-r', 'while away', 'web'])
  assert.equal(down.code, 0, 'the local spool never depends on etcd')
  const refused = await tool('hadown', '--fleet-host', 'h2', '-r', 'x', 'web')
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /nothing was written/)
  await waitFor(async () => /cannot publish status to etcd/.test(h1.proc.stderr()) ? true : undefined, 15000, 'h1 to notice')
  assert.equal(await codeOf(h1, 'web'), 503)
  await etcdStart()
  await waitFor(async () => /publishing status again/.test(h1.proc.stderr()) ? true : undefined, 30000, 'h1 to publish again')
  await waitFor(async () => {
    const rec = JSON.parse(await kv.get('/hacheck/status/web/h1').string() ?? 'null') as { state: string, reason: string } | null
    return rec?.state === 'down' && rec.reason === 'while away' ? true : undefined
  }, 15000, 'the change made while away to be published')
  for (const h of ['h2', 'h3']) assert.notEqual(await kv.get(`/hacheck/status/web/${h}`).string(), null, `${h} republished`)
})

test('with -n 2, one worker publishes: one lease for the host, and its spool state is published', async (t) => {
  const etcd = await startEtcd(t)
  const proc = await startHacheckProcess(t, { config: { fleet_etcd_endpoints: [etcd.clientUrl], fleet_host_name: 'multi' }, args: ['-n', '2'] })
  const kv = new Etcd3({ hosts: [etcd.clientUrl] })
  t.after(() => { kv.close() })
  assert.equal((await runBin('hadown', ['--spool-root', proc.spoolRoot, '-r', 'two workers', 'web'])).code, 0)
  const rec = await waitFor(async () => {
    const r = JSON.parse(await kv.get('/hacheck/status/web/multi').string() ?? 'null') as { state: string, reason: string } | null
    return r?.state === 'down' ? r : undefined
  }, 10000, 'the down to be published')
  assert.equal(rec.reason, 'two workers')
  // Both workers answer checks; only slot 1 holds a lease.
  for (let i = 0; i < 10; i++) await (await fetch(proc.url('/spool/api/0/'))).arrayBuffer()
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const leases = await kv.leaseClient.leaseLeases({})
  assert.equal(leases.leases.length, 1, 'one publisher, one lease')
})
