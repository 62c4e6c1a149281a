/**
 * Load weights wired into a whole server (docs/operator-guide.md "Load weights"): nothing is
 * started when they are off; when on, the sampler runs on its timer, the agent answers its
 * weight, and `/status`, `/metrics` and the status page's data show each scope with its inputs.
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { makeConfig, type Config } from '../../src/config/index.js'
import { createRuntime } from '../../src/http/app.js'
import type { PageSnapshot } from '../../src/http/page/snapshot.js'
import { startServer, type RunningServer } from '../../src/http/server.js'
import { SpoolWeights } from '../../src/spool/weight.js'
import { askAgent } from '../agent/client.js'
import { buildTestApp, tempDir, tempSpool, waitFor } from '../helper.js'
import { writePressure } from '../ops/pressure-fixtures.js'
import { parsePrometheus, sampleValue } from '../prometheus.js'

async function serve (t: TestContext, overrides: Partial<Record<keyof Config, unknown>>): Promise<RunningServer> {
  const server = await startServer({ config: makeConfig(overrides), spool: await tempSpool(t), ports: [0], bindAddress: '127.0.0.1', agentPort: 0 })
  t.after(async () => { await server.close() })
  return server
}

const url = (server: RunningServer, path: string): string => `http://127.0.0.1:${server.addresses[0]?.port}${path}`

test('off by default: no sampler, no /status member, no gauges, and the agent sends no weight (as before)', async (t) => {
  const root = await tempDir(t, 'hacheck-pressure-')
  await writePressure(root, 'cpu', 90)
  assert.equal(createRuntime(makeConfig({ pressure_root: root }), { spool: await tempSpool(t) }).load, undefined, 'nothing built or started')
  const server = await serve(t, { pressure_root: root })
  assert.equal(server.runtime.load, undefined)
  assert.equal(await askAgent(server.agent?.address.port ?? 0, 'web\n'), 'ready up\n')
  const status = await (await fetch(url(server, '/status'))).json() as Record<string, unknown>
  assert.equal('load_weight' in status, false)
  const metrics = parsePrometheus(await (await fetch(url(server, '/metrics'))).text())
  assert.ok(![...metrics.keys()].some((name) => name.startsWith('hacheck_load_')))
  const page = await (await fetch(url(server, '/page/data'))).json() as PageSnapshot
  assert.equal(page.host.load_weight, undefined)
  assert.equal(page.all.load, null)
})

test('on: the timer reads pressure, the agent follows it; /status, /metrics and the page show each scope and its inputs; close() stops the timer', async (t) => {
  const root = join(await tempDir(t, 'hacheck-pressure-'), 'pressure')
  const web = join(await tempDir(t, 'hacheck-cgroups-'), 'web.service')
  await mkdir(root)
  await writePressure(root, 'cpu', 20)
  await writePressure(root, 'memory', 5)
  await writePressure(web, 'cpu.pressure', 50)
  // web's memory.pressure is missing: ignored, and shown as such.
  const server = await serve(t, {
    load_weight_sources: ['cpu', 'memory'],
    load_weight_interval_seconds: 0.1,
    pressure_root: root,
    load_weight_cgroups: { web }
  })
  const agentPort = server.agent?.address.port ?? 0
  assert.equal(server.runtime.load?.running, true)
  assert.equal(await askAgent(agentPort, 'web\n'), 'ready up 50%\n', 'read once at start')
  assert.equal(await askAgent(agentPort, 'api\n'), 'ready up 80%\n')

  // The timer, not the request, reads: a new file shows within a few intervals.
  await writePressure(root, 'cpu', 60)
  const seconds = await waitFor(async () => (await askAgent(agentPort, 'api\n')) === 'ready up 40%\n' ? true : undefined, 5000, 'the new host pressure')
  assert.ok(seconds)

  const status = (await (await fetch(url(server, '/status'))).json() as { load_weight: { scopes: Array<Record<string, unknown>> } & Record<string, unknown> }).load_weight
  assert.deepEqual({ ...status, scopes: undefined }, { sources: ['cpu', 'memory'], window: 'avg10', factor: 1, floor: 10, hysteresis: 5, interval_seconds: 0.1, scopes: undefined })
  const [host, cgroup] = status.scopes
  assert.deepEqual({ ...host, sampled_at: typeof host?.sampled_at }, {
    service: 'all',
    kind: 'host',
    dir: root,
    weight: 40,
    computed: 40,
    pressure: 60,
    sampled_at: 'number',
    inputs: [
      { resource: 'cpu', path: join(root, 'cpu'), some: { avg10: 60, avg60: 60, avg300: 60, total_us: 60000 }, error: null },
      { resource: 'memory', path: join(root, 'memory'), some: { avg10: 5, avg60: 5, avg300: 5, total_us: 5000 }, error: null }
    ]
  })
  assert.deepEqual([cgroup?.service, cgroup?.kind, cgroup?.weight, cgroup?.pressure], ['web', 'cgroup', 50, 50])
  assert.deepEqual((cgroup?.inputs as unknown[])[1], { resource: 'memory', path: join(web, 'memory.pressure'), some: null, error: `pressure file ${join(web, 'memory.pressure')} does not exist` })

  const metrics = parsePrometheus(await (await fetch(url(server, '/metrics'))).text())
  assert.equal(sampleValue(metrics, 'hacheck_load_weight', { service: 'all' }), 40)
  assert.equal(sampleValue(metrics, 'hacheck_load_weight', { service: 'web' }), 50)
  assert.equal(sampleValue(metrics, 'hacheck_load_pressure', { service: 'all', resource: 'cpu', window: 'avg10' }), 60)
  assert.ok(Number.isNaN(sampleValue(metrics, 'hacheck_load_pressure', { service: 'web', resource: 'memory', window: 'avg10' })), 'NaN where the file cannot be used')
  assert.deepEqual(metrics.get('hacheck_load_weight')?.samples.map((s) => s.labels.service), ['all', 'web'], 'configured scopes only')

  await fetch(url(server, '/spool/web/0/'))
  await fetch(url(server, '/spool/api/0/'))
  await new SpoolWeights(server.runtime.spool).set({ service: 'api' }, 30)
  const page = await (await fetch(url(server, '/page/data'))).json() as PageSnapshot
  const rows = Object.fromEntries(page.services.map((r) => [r.name, r]))
  assert.deepEqual(rows.web?.load, { percent: 50, scope: 'web', pressure: 50 })
  assert.deepEqual(rows.api?.load, { percent: 40, scope: 'all', pressure: 60 })
  assert.deepEqual(rows.api?.weight, { percent: 30, file: 'api' }, 'the spool weight is shown beside it')
  assert.deepEqual(page.all.load, { percent: 40, scope: 'all', pressure: 60 })
  assert.deepEqual((page.host.load_weight as { scopes: unknown[] }).scopes.length, 2)

  const load = server.runtime.load
  await server.close()
  assert.equal(load?.running, false, 'stopped with the server')
})

test('an app built on its own starts its own sampler and stops it on close', async (t) => {
  const root = await tempDir(t, 'hacheck-pressure-')
  await writePressure(root, 'cpu', 0)
  const spool = await tempSpool(t)
  const config = makeConfig({ load_weight_sources: ['cpu'], pressure_root: root })
  const { app } = await buildTestApp(t, { load_weight_sources: ['cpu'], pressure_root: root }, { spool })
  const status = (await app.inject('/status')).json() as { load_weight: { scopes: Array<{ weight: number }> } }
  assert.equal(status.load_weight.scopes[0]?.weight, 100)
  // A runtime built once and shared is not the app's to stop.
  const runtime = createRuntime(config, { spool })
  t.after(() => { runtime.load?.stop() })
  const { app: shared } = await buildTestApp(t, {}, runtime)
  await shared.close()
  assert.equal(runtime.load?.running, true)
})
