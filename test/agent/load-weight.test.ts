/**
 * Load weights through the agent-check server, on real sockets: fixture pressure files under a
 * temp pressure_root (and temp cgroup directories), read by a sampler the test drives one round
 * at a time (its timer is tested in test/ops/load-weight.test.ts).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { agentWeight } from '../../src/agent/answer.js'
import { startAgentServer } from '../../src/agent/server.js'
import { HealthService } from '../../src/checks/health.js'
import { makeConfig, type Config } from '../../src/config/index.js'
import { LoadSampler } from '../../src/ops/load-weight.js'
import type { Spool } from '../../src/spool/spool.js'
import { SpoolWeights } from '../../src/spool/weight.js'
import { tempDir, tempSpool } from '../helper.js'
import { writePressure } from '../ops/pressure-fixtures.js'
import { askAgent } from './client.js'

interface Fixture { port: number, spool: Spool, load: LoadSampler, root: string, warnings: string[] }

/** An agent server with load weights on `sources`, pressure files under a temp root. */
async function agentWithLoad (t: TestContext, overrides: Partial<Record<keyof Config, unknown>> = {}): Promise<Fixture> {
  const root = join(await tempDir(t, 'hacheck-pressure-'), 'pressure')
  await mkdir(root)
  const config = makeConfig({ load_weight_sources: ['cpu'], pressure_root: root, ...overrides })
  assert.ok(config.loadWeight !== null)
  const warnings: string[] = []
  const load = new LoadSampler({ settings: config.loadWeight, logger: { warn: (obj) => { warnings.push(JSON.stringify(obj)) }, info: () => {} } })
  const spool = await tempSpool(t)
  const agent = await startAgentServer({ config, health: new HealthService({ config, spool }), spool, load, port: 0, host: '127.0.0.1', requestWaitMs: 100 })
  t.after(async () => { await agent.close() })
  return { port: agent.address.port, spool, load, root, warnings }
}

test('agentWeight: the lowest of the spool\'s and the load weight; with load weights on, always a weight', () => {
  assert.equal(agentWeight(undefined, undefined), undefined, 'off, no haweight: no weight, as before')
  assert.equal(agentWeight(50, undefined), 50, 'off: the spool\'s')
  assert.equal(agentWeight(undefined, 63), 63)
  assert.equal(agentWeight(30, 63), 30)
  assert.equal(agentWeight(80, 63), 63)
  assert.equal(agentWeight(150, 100), 100, 'a haweight above 100 is capped by the load weight')
  assert.equal(agentWeight(undefined, null), 100, 'on, no usable source: 100, so a lowered weight does not stay in HAProxy')
  assert.equal(agentWeight(150, null), 150, 'on, no usable source: the spool\'s alone')
})

test('agent: pressure 0 %, 40 %, 95 % answers 100 %, 60 % and the floor; wobbles inside the hysteresis keep the answer', async (t) => {
  const { port, load, root } = await agentWithLoad(t)
  for (const [percent, reply] of [[0, 'ready up 100%\n'], [40, 'ready up 60%\n'], [95, 'ready up 10%\n'], [40, 'ready up 60%\n'], [43, 'ready up 60%\n'], [37, 'ready up 60%\n'], [34, 'ready up 66%\n']] as const) {
    await writePressure(root, 'cpu', percent)
    load.sample()
    assert.equal(await askAgent(port, 'web\n'), reply, `pressure ${percent} %`)
  }
  assert.equal(await askAgent(port), 'ready up 66%\n', 'the host (all) too')
  assert.equal(await askAgent(port, 'web:8080\n'), 'ready up 66%\n', 'and a service\'s port')
})

test('agent: haweight web 30 with a low pressure answers 30 %; the load weight wins when it is lower', async (t) => {
  const { port, load, root, spool } = await agentWithLoad(t)
  await writePressure(root, 'cpu', 5)
  load.sample()
  assert.equal(await askAgent(port, 'web\n'), 'ready up 95%\n')
  await new SpoolWeights(spool).set({ service: 'web' }, 30)
  assert.equal(await askAgent(port, 'web\n'), 'ready up 30%\n')
  assert.equal(await askAgent(port, 'api\n'), 'ready up 95%\n', 'the haweight is web\'s alone')
  await new SpoolWeights(spool).set({ service: 'all' }, 20)
  assert.equal(await askAgent(port, 'api\n'), 'ready up 20%\n', 'haweight all lowers every service')
  await writePressure(root, 'cpu', 90)
  load.sample()
  await new SpoolWeights(spool).clear({ service: 'all' })
  assert.equal(await askAgent(port, 'web\n'), 'ready up 10%\n', 'the load weight (floor) is lower than haweight 30')
})

test('agent: drain, maint and down keep their meaning under load weights', async (t) => {
  const { port, load, root, spool } = await agentWithLoad(t)
  await writePressure(root, 'cpu', 40)
  load.sample()
  await spool.down({ service: 'web' }, { reason: 'deploy', state: 'drain', creation: 1700000000 })
  assert.equal(await askAgent(port, 'web\n'), 'drain up 60% #Service web in drain state since 1700000000.000000: deploy\n')
  await spool.down({ service: 'web' }, { reason: 'kernel', state: 'maint', creation: 1700000000 })
  assert.equal(await askAgent(port, 'web\n'), 'maint stopped 60% #Service web in maint state since 1700000000.000000: kernel\n')
  await spool.down({ service: 'web' }, { reason: 'broken', creation: 1700000000 })
  assert.equal(await askAgent(port, 'web\n'), 'ready down 60% #Service web in down state since 1700000000.000000: broken\n')
  await spool.up({ service: 'web' })
  assert.equal(await askAgent(port, 'web\n'), 'ready up 60%\n')
})

test('agent: per-service cgroups; two services, only the one under pressure loses weight', async (t) => {
  const cgroups = await tempDir(t, 'hacheck-cgroups-')
  const web = join(cgroups, 'system.slice', 'web.service')
  const api = join(cgroups, 'system.slice', 'api.service')
  const { port, load, root } = await agentWithLoad(t, { load_weight_sources: ['cpu', 'memory', 'io'], load_weight_cgroups: { web, api } })
  for (const dir of [web, api]) for (const r of ['cpu', 'memory', 'io']) await writePressure(dir, `${r}.pressure`, 0)
  for (const r of ['cpu', 'memory', 'io']) await writePressure(root, r, 10)
  load.sample()
  assert.deepEqual(await Promise.all(['web\n', 'api\n', 'db\n', undefined].map(async (s) => await askAgent(port, s))),
    ['ready up 100%\n', 'ready up 100%\n', 'ready up 90%\n', 'ready up 90%\n'], 'cgroups replace the host\'s pressure for their service')
  await writePressure(web, 'io.pressure', 75)
  load.sample()
  assert.deepEqual(await Promise.all(['web\n', 'api\n', 'db\n'].map(async (s) => await askAgent(port, s))),
    ['ready up 25%\n', 'ready up 100%\n', 'ready up 90%\n'])
})

test('agent: unreadable, missing, malformed, huge and FIFO pressure files are ignored with one warning; the weight comes from the spool only', async (t) => {
  const { port, load, root, spool, warnings } = await agentWithLoad(t)
  await writePressure(root, 'cpu', 60)
  load.sample()
  assert.equal(await askAgent(port, 'web\n'), 'ready up 40%\n')
  await new SpoolWeights(spool).set({ service: 'web' }, 50)
  const cpu = join(root, 'cpu')
  const breakers: Array<[string, () => Promise<void>]> = [
    ['missing', async () => { await rm(cpu) }],
    ['malformed', async () => { await writeFile(cpu, 'some avg10=60 avg60=60\n') }],
    ['huge', async () => { await writeFile(cpu, `some avg10=60.00 avg60=60.00 avg300=60.00 total=1\n${' '.repeat(1 << 20)}`) }],
    // root reads any file whatever its mode: a directory in the file's place cannot be read as one
    ['unreadable', async () => { await rm(cpu); await mkdir(cpu) }],
    ['FIFO', async () => { await rm(cpu, { recursive: true }); execFileSync('mkfifo', [cpu]) }]
  ]
  for (const [what, breakIt] of breakers) {
    await breakIt()
    load.sample()
    load.sample()
    assert.equal(await askAgent(port, 'web\n'), 'ready up 50%\n', `${what}: the spool's weight alone`)
    assert.equal(await askAgent(port, 'api\n'), 'ready up 100%\n', `${what}: no weight set: 100 %, never down`)
  }
  // The directory and the FIFO share one reason ("not a regular file"): four warnings in all.
  assert.equal(warnings.length, 4, warnings.join('\n'))
  assert.ok(warnings.every((w) => w.includes('"resource":"cpu"')))
})
