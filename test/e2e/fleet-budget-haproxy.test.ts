/**
 * A disruption budget seen by a real HAProxy (docs/fleet.md "Disruption budgets"): three
 * hacheck "hosts" behind one backend (`option httpchk`, `http-check disable-on-404`, so a drain
 * is NOLB), a budget of 1 for web. Draining host 1 is allowed; draining host 2 is refused
 * (exit 3); after host 1 is back, host 2 may go. A watcher polls HAProxy's stats throughout:
 * fewer than two servers UP at any moment fails the test.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startEtcd } from '../etcd.js'
import { HANG_MS, runBin, waitFor, type RunResult } from '../helper.js'
import { httpUpstream } from '../upstreams.js'
import { startFleetHosts, toolConfig } from './fleet.js'
import { startHaproxy, type StatRow } from './haproxy.js'

const INTER_MS = 200

test('HAProxy: with a budget of 1, the second drain is refused and two servers stay UP throughout', async (t) => {
  const etcd = await startEtcd(t)
  const upstreams = await Promise.all([1, 2, 3].map(async () => await httpUpstream(t)))
  const hosts = await startFleetHosts(t, [etcd.clientUrl], ['web01', 'web02', 'web03'], { cache_time: 0.1 })
  const haproxy = await startHaproxy(t, [
    'backend web',
    // Each hacheck probes the first upstream: what differs between hosts is their spool.
    `  option httpchk GET /http/web/${upstreams[0]?.port ?? 0}/health`,
    '  http-check disable-on-404',
    ...hosts.map((h, i) => `  server web${i + 1} 127.0.0.1:${upstreams[i]?.port ?? 0} check port ${h.proc.port} inter ${INTER_MS} fall 2 rise 2`)
  ].join('\n'))
  const config = await toolConfig(t, [etcd.clientUrl])
  const tool = async (...args: string[]): Promise<RunResult> => await runBin(args[0] as string, ['-c', config, ...args.slice(1)], { SUDO_USER: 'alice' })
  const servers = ['web1', 'web2', 'web3']
  const isUp = (row: StatRow): boolean => row.status === 'UP'
  await Promise.all(servers.map(async (s) => await haproxy.waitFor('web', s, isUp, HANG_MS)))
  await waitFor(async () => /^web: 3 hosts, 3 up$/m.test((await runBin('hastatus', ['-c', config, '--fleet', 'web'])).stdout) ? true : undefined, HANG_MS, 'every host to publish web up')

  let minUp = 3
  let samples = 0
  const watching = new AbortController()
  const watcher = (async () => {
    while (!watching.signal.aborted) {
      const rows = (await haproxy.stats()).filter((r) => r.pxname === 'web' && servers.includes(r.svname ?? ''))
      minUp = Math.min(minUp, rows.filter(isUp).length)
      samples++
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  t.after(async () => { watching.abort(); await watcher })

  assert.equal((await tool('habudget', 'web', '1')).code, 0)
  const first = await tool('hadown', '--fleet-host', 'web01', '--drain', '-r', 'deploy', 'web')
  assert.equal(first.code, 0, first.stderr)
  await haproxy.waitFor('web', 'web1', (row) => row.status === 'NOLB', HANG_MS)
  const second = await tool('hadown', '--fleet-host', 'web02', '--drain', '-r', 'deploy', 'web')
  assert.equal(second.code, 3, second.stderr)
  assert.match(second.stderr, /already out: web01 /)
  // Long enough for HAProxy to have acted on a drain had one been written.
  await new Promise((resolve) => setTimeout(resolve, INTER_MS * 4))
  assert.equal((await haproxy.server('web', 'web2')).status, 'UP')

  assert.equal((await tool('haup', '--fleet-host', 'web01', 'web')).code, 0)
  await haproxy.waitFor('web', 'web1', isUp, HANG_MS)
  await waitFor(async () => /^web: 3 hosts, 3 up$/m.test((await runBin('hastatus', ['-c', config, '--fleet', 'web'])).stdout) ? true : undefined, HANG_MS, 'web01 to publish up again')
  const third = await tool('hadown', '--fleet-host', 'web02', '--drain', '-r', 'deploy', 'web')
  assert.equal(third.code, 0, third.stderr)
  await haproxy.waitFor('web', 'web2', (row) => row.status === 'NOLB', HANG_MS)
  assert.equal((await tool('haup', '--fleet-host', 'web02', 'web')).code, 0)
  await haproxy.waitFor('web', 'web2', isUp, HANG_MS)

  watching.abort()
  await watcher
  t.diagnostic(`fewest servers UP over ${samples} samples of HAProxy's stats: ${minUp}`)
  assert.ok(minUp >= 2, `HAProxy had ${minUp} servers UP at one point`)
})
