/**
 * The fleet seen by a real HAProxy 2.6: two hacheck "hosts" (built `bin/hacheck`, each with its
 * own spool) behind one backend with `option httpchk`, `inter 200`, `fall 2`. One
 * `hadown --fleet web` takes both servers DOWN within inter × fall + 1 s of the tool returning;
 * `haup --fleet web` brings both back UP. The test prints how long each took.
 *
 * Each hacheck stands for the host of one server: HAProxy checks server N through hacheck N
 * (`check port`), and sends the server's own port in `X-Haproxy-Server-State`.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import { startEtcd } from '../etcd.js'
import { HANG_MS, runBin } from '../helper.js'
import { httpUpstream } from '../upstreams.js'
import { startFleetHosts, toolConfig } from './fleet.js'
import { startHaproxy, type StatRow } from './haproxy.js'

const INTER_MS = 200
const FALL = 2
const RISE = 2

test('HAProxy: hadown --fleet web takes both servers DOWN, haup --fleet web brings them UP', async (t) => {
  const etcd = await startEtcd(t)
  const web1 = await httpUpstream(t)
  const web2 = await httpUpstream(t)
  const [host1, host2] = await startFleetHosts(t, [etcd.clientUrl], ['web01', 'web02'], { cache_time: 0.1 })
  assert.ok(host1 !== undefined && host2 !== undefined)
  const haproxy = await startHaproxy(t, [
    'backend web',
    `  option httpchk GET /http/web/${web1.port}/health`,
    '  http-check send-state',
    `  server web1 127.0.0.1:${web1.port} check port ${host1.proc.port} inter ${INTER_MS} fall ${FALL} rise ${RISE}`,
    `  server web2 127.0.0.1:${web2.port} check port ${host2.proc.port} inter ${INTER_MS} fall ${FALL} rise ${RISE}`
  ].join('\n'))
  const config = await toolConfig(t, [etcd.clientUrl])
  const both = async (want: (row: StatRow) => boolean, withinMs: number): Promise<number> => {
    const since = performance.now()
    const took = await Promise.all(['web1', 'web2'].map(async (s) => await haproxy.waitFor('web', s, want, withinMs)))
    return Math.max(...took, (performance.now() - since) / 1000)
  }
  const isUp = (row: StatRow): boolean => row.status === 'UP' && row.check_status === 'L7OK'
  const isDown = (row: StatRow): boolean => row.status === 'DOWN' && row.check_status === 'L7STS'
  await both(isUp, HANG_MS)

  // The docs' figure, printed beside the measured one: waits are bounded only against a hang.
  const expected = INTER_MS * FALL + 1000
  let r = await runBin('hadown', ['-c', config, '--fleet', '-r', 'haproxy e2e', 'web'])
  assert.equal(r.code, 0, r.stderr)
  t.diagnostic(`hadown --fleet web: both servers DOWN ${(await both(isDown, HANG_MS)).toFixed(2)} s after the tool returned (inter × fall + 1 s = ${expected / 1000} s)`)

  r = await runBin('haup', ['-c', config, '--fleet', 'web'])
  assert.equal(r.code, 0, r.stderr)
  t.diagnostic(`haup --fleet web: both servers UP ${(await both(isUp, HANG_MS)).toFixed(2)} s after the tool returned (inter × rise + 1 s = ${(INTER_MS * RISE + 1000) / 1000} s)`)
})
