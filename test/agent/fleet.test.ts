/**
 * The agent-check answer from the fleet view: fleet drain and maint states, fleet weights (the
 * lowest of every source), and a fleet weight that cannot be parsed (down: fail closed).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startAgentServer } from '../../src/agent/server.js'
import { HealthService } from '../../src/checks/health.js'
import { makeConfig } from '../../src/config/index.js'
import { FleetMirror } from '../../src/fleet/view.js'
import { Spool } from '../../src/spool/spool.js'
import { SpoolWeights } from '../../src/spool/weight.js'
import { tempDir } from '../helper.js'
import { askAgent } from './client.js'

test('agent: fleet states and weights in the reply, a bad fleet weight fails closed', async (t) => {
  const config = makeConfig()
  const view = new FleetMirror({ prefix: '/hacheck/', host: 'web01' })
  const spool = new Spool(await tempDir(t), undefined, undefined, view)
  const agent = await startAgentServer({ config, health: new HealthService({ config, spool }), spool, port: 0, host: '127.0.0.1', requestWaitMs: 100 })
  t.after(async () => { await agent.close() })
  const port = agent.address.port
  const set = (entries: Record<string, unknown>): void => {
    view.replace(Object.entries(entries).map(([key, v], i) => ({ key, value: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)), modRevision: i + 1 })), 100)
  }
  set({ '/hacheck/spool/web': { reason: 'deploy', state: 'drain', creation: 1 }, '/hacheck/hosts/web01/weight/web': { weight: 40 } })
  assert.equal(await askAgent(port, 'web\n'), 'drain up 40% #Service web in drain state since 1.000000: deploy\n')
  await new SpoolWeights(spool).set({ service: 'all' }, 70)
  assert.equal(await askAgent(port, 'api\n'), 'ready up 70%\n')
  set({ '/hacheck/weight/all': { weight: 20 }, '/hacheck/hosts/web01/spool/api': { reason: 'disk', state: 'maint', creation: 1 } })
  assert.equal(await askAgent(port, 'web\n'), 'ready up 20%\n', 'the lowest weight, whatever its source')
  assert.equal(await askAgent(port, 'api\n'), 'maint stopped 20% #Service api in maint state since 1.000000: disk\n')
  set({ '/hacheck/weight/web': 'fifty' })
  assert.match(await askAgent(port, 'web\n'), /^ready down #invalid fleet weight \/hacheck\/weight\/web/)
})
