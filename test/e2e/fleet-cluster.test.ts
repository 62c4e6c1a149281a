/**
 * Three hacheck "hosts" on a three-member etcd cluster, through the failures the fleet must
 * ride out: the leader killed (a new `hadown --fleet` still reaches every host within 2 s),
 * every member stopped (the last state is kept, a down stays down, an up stays up, also across
 * a restart of hacheck, and the local spool still works), and one host cut off while the fleet changes (it converges once it can
 * reach etcd again, without a restart). Each step prints how long it took.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import { etcdLeader, etcdMoveLeader, etcdWatchStreams, startEtcdCluster } from '../etcd.js'
import { HANG_MS, runBin, waitFor } from '../helper.js'
import { countingProxy } from '../tcp-proxy.js'
import { converge, fleetStatusOf, startFleetHosts, toolConfig, type FleetHost } from './fleet.js'

test('a three-member etcd cluster: leader killed, every member stopped, one host cut off and back', async (t) => {
  const members = await startEtcdCluster(t, { members: 3 })
  const endpoints = members.map((m) => m.clientUrl)
  // web03 reaches etcd through proxies the test can cut.
  const proxies = await Promise.all(members.map(async (m) => await countingProxy(t, Number(new URL(m.clientUrl).port))))
  // Retries at most a second apart (default 5 s), so the reconnections below take less time.
  const fast = { fleet_reconnect_max_seconds: 1 }
  const [web01, web02, web03] = [
    ...await startFleetHosts(t, endpoints, ['web01', 'web02'], fast),
    ...await startFleetHosts(t, proxies.map((p) => `http://127.0.0.1:${p.port}`), ['web03'], fast)
  ] as [FleetHost, FleetHost, FleetHost]
  const hosts = [web01, web02, web03]
  const config = await toolConfig(t, endpoints)
  const tool = async (name: string, ...args: string[]): Promise<void> => {
    const r = await runBin(name, ['-c', config, ...args])
    assert.equal(r.code, 0, `${name} ${args.join(' ')}: ${r.stderr}`)
  }
  const all = (code: number) => () => code
  const allConnected = async (want: boolean, group = hosts, withinMs = 10000): Promise<number> => {
    const since = performance.now()
    await waitFor(async () => (await Promise.all(group.map(fleetStatusOf))).every((s) => s.connected === want) ? true : undefined, withinMs, `hosts connected=${String(want)}`)
    return performance.now() - since
  }
  await allConnected(true)

  // The leader dies: the hosts stay on (or move to) the others, and the fleet still works. The
  // member most hosts watch through is made leader first, so some of them lose their watch.
  const streams = await Promise.all(members.map(etcdWatchStreams))
  const leader = members[streams.indexOf(Math.max(...streams))] ?? members[0]
  assert.ok(leader !== undefined && Math.max(...streams) > 0, `watch streams per member: ${streams.join(', ')}`)
  await etcdMoveLeader(members, leader)
  await leader.kill()
  const alive = members.filter((m) => m !== leader)
  await etcdLeader(alive)
  await waitFor(async () => hosts.some((h) => h.proc.stderr().includes('fleet: lost etcd')) ? true : undefined, 5000, 'a host to lose its watch')
  t.diagnostic(`leader ${leader.name} (${Math.max(...streams)} of the hosts' watch streams) killed: every host connected within ${(await allConnected(true)).toFixed(0)} ms`)
  await tool('hadown', '--fleet', '-r', 'after the leader died', 'web')
  const ms = await converge(hosts, 'web', all(503), performance.now())
  t.diagnostic(`hadown --fleet after the leader's death reached every host ${ms.toFixed(0)} ms after the tool returned`)
  await leader.start()

  // Every member stops: the last state is kept, the local spool still works.
  await Promise.all(members.map(async (m) => { await m.kill() }))
  t.diagnostic(`every member stopped: every host saw it within ${(await allConnected(false)).toFixed(0)} ms`)
  await converge(hosts, 'web', all(503), performance.now())
  await converge(hosts, 'api', all(200), performance.now())
  // A restart while etcd is away keeps the last fleet state (the @fleet snapshot).
  await web01.proc.kill('SIGKILL')
  await web01.proc.restart()
  await converge(hosts, 'web', all(503), performance.now()).catch((err) => { throw new Error(`${(err as Error).message}\n${web01.proc.stderr()}`) })
  assert.match(web01.proc.stderr(), /last fleet state read from the spool root's @fleet snapshot/)
  assert.equal((await runBin('hadown', ['--spool-root', web02.proc.spoolRoot, '-r', 'local while etcd is away', 'db'])).code, 0)
  await converge(hosts, 'db', (h) => h === web02 ? 503 : 200, performance.now())
  assert.equal((await runBin('haup', ['--spool-root', web02.proc.spoolRoot, 'db'])).code, 0)
  // hastatus says what the daemon answers (the fleet's down, as of its last sync), that its
  // view is stale, and that etcd cannot be reached: exit 1.
  const stale = await runBin('hastatus', ['-c', config, '-p', String(web02.proc.port), '--spool-root', web02.proc.spoolRoot, 'web'])
  assert.equal(stale.code, 1)
  assert.match(stale.stdout, /^DOWN\tinf\tweb\t[^\t]+\tfleet\tweb\tfleet as of \d+s ago \(etcd unreachable\)\nFLEET\tstale\tdisconnected from etcd, last synced \d+s ago at revision \d+\n$/)
  assert.match(stale.stderr, /etcd at .*UNAVAILABLE/)
  const lines = (h: FleetHost, text: string): number => h.proc.stderr().split('\n').filter((line) => line.includes(text)).length
  const lostBefore = new Map(hosts.map((h) => [h, lines(h, 'fleet: lost etcd')]))
  // Several failed reconnects, counted rather than guessed from a delay: web03's go through the
  // proxies (each a connection they accept, then drop as the member is gone); the other hosts
  // retry on the same back-off and lost etcd at the same moment.
  const attempts = (): number => proxies.reduce((n, p) => n + p.connections(), 0)
  const attemptsBefore = attempts()
  await waitFor(async () => attempts() >= attemptsBefore + 3 ? true : undefined, HANG_MS, 'three failed reconnects of web03')
  for (const h of hosts) assert.equal(lines(h, 'fleet: lost etcd'), lostBefore.get(h), `${h.name} logs the loss once, not per retry`)

  // Back, then web03 cut off while the fleet changes; it converges once it can reach etcd.
  await Promise.all(members.map(async (m) => { await m.start(false) }))
  await etcdLeader(members)
  t.diagnostic(`every member back: every host reconnected within ${(await allConnected(true, hosts, 15000)).toFixed(0)} ms`)
  for (const p of proxies) p.cut()
  await allConnected(false, [web03])
  await tool('haup', '--fleet', 'web')
  await tool('hadown', '--fleet', '-r', 'while web03 was away', 'api')
  await converge(hosts, 'web', (h) => h === web03 ? 503 : 200, performance.now())
  await converge(hosts, 'api', (h) => h === web03 ? 200 : 503, performance.now())
  for (const p of proxies) p.restore()
  const since = performance.now()
  await converge(hosts, 'web', all(200), since, 10000)
  await converge(hosts, 'api', all(503), since, 10000)
  t.diagnostic(`web03 reconnected and converged ${(performance.now() - since).toFixed(0)} ms after the cut ended, without a restart`)
  await waitFor(async () => lines(web03, 'etcd is back') === lines(web03, 'fleet: lost etcd') ? true : undefined, 5000, 'web03 to log its recovery')
  for (const h of hosts) assert.equal(lines(h, 'etcd is back'), lines(h, 'fleet: lost etcd'), `${h.name}: each loss, then its recovery, logged once`)
})
