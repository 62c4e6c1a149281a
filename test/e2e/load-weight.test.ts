/**
 * HAProxy 2.6 (Debian) follows load weights through agent-check: the built `bin/hacheck` with
 * `--agent-port` reads a fixture pressure file under a temp `pressure_root`; moving it from 0 %
 * to 80 % must change the server's effective weight in HAProxy (its stats socket) within 1 s,
 * and back to 0 % must restore it (docs/operator-guide.md "Load weights").
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort, runBin, tempDir } from '../helper.js'
import { writePressure } from '../ops/pressure-fixtures.js'
import { httpUpstream } from '../upstreams.js'
import { startHacheckProcess } from './hacheck-process.js'
import { startHaproxy } from './haproxy.js'

test('HAProxy\'s effective weight follows the pressure file: 0 % → 100, 80 % → 20 within 1 s, back to 0 % → 100; haweight still lowers it', async (t) => {
  const web = await httpUpstream(t)
  const pressure = join(await tempDir(t, 'hacheck-pressure-'), 'pressure')
  await mkdir(pressure)
  await writePressure(pressure, 'cpu', 0)
  const agentPort = await freePort()
  const hacheck = await startHacheckProcess(t, {
    config: { load_weight_sources: ['cpu'], pressure_root: pressure, load_weight_interval_seconds: 0.1 },
    args: ['--agent-port', String(agentPort)]
  })
  const haproxy = await startHaproxy(t, [
    'backend web',
    `  server web1 127.0.0.1:${web.port} weight 100 check inter 100 fall 1 rise 1 agent-check agent-port ${agentPort} agent-send "web\\n" agent-inter 200`
  ].join('\n'))
  await haproxy.waitFor('web', 'web1', (row) => row.status === 'UP' && row.agent_status === 'L7OK' && row.weight === '100', 5000)

  const timings: Record<string, number> = {}
  /** Writes the fixture, then waits (at most 1 s) for HAProxy's weight. */
  const step = async (label: string, percent: number, weight: string): Promise<void> => {
    await writePressure(pressure, 'cpu', percent)
    timings[label] = await haproxy.waitFor('web', 'web1', (row) => row.weight === weight && row.status === 'UP', 1000)
    assert.equal((await haproxy.serverState('web', 'web1')).srv_uweight, weight, `${label}: show servers state`)
  }
  await step('0 → 80 %', 80, '20')
  await step('80 → 0 %', 0, '100')

  // The load weight and haweight together: the lower one is HAProxy's.
  assert.equal((await runBin('haweight', ['--spool-root', hacheck.spoolRoot, 'web', '50'])).code, 0)
  timings['haweight 50 at 0 %'] = await haproxy.waitFor('web', 'web1', (row) => row.weight === '50', 2000)
  await step('0 → 80 % with haweight 50', 80, '20')
  await step('80 → 0 % with haweight 50', 0, '50')
  t.diagnostic(`seconds from writing the pressure file to HAProxy's weight: ${JSON.stringify(timings)}`)
})
