import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { startAgentServer, type AgentServer } from '../../src/agent/server.js'
import { HealthService } from '../../src/checks/health.js'
import { makeConfig, type Config } from '../../src/config/index.js'
import { startServer } from '../../src/http/server.js'
import type { Spool } from '../../src/spool/spool.js'
import { SpoolWeights, WEIGHT_DIR } from '../../src/spool/weight.js'
import { freePort, HANG_MS, tempSpool, untilSettled, waitFor } from '../helper.js'
import { httpUpstream } from '../upstreams.js'
import { askAgent } from './client.js'

async function agentOn (t: TestContext, overrides: Partial<Record<keyof Config, unknown>> = {}, extra: { maxConnections?: number, requestWaitMs?: number } = {}): Promise<{ agent: AgentServer, spool: Spool, port: number }> {
  const config = makeConfig(overrides)
  const spool = await tempSpool(t)
  const health = new HealthService({ config, spool })
  const agent = await startAgentServer({ config, health, spool, port: 0, host: '127.0.0.1', requestWaitMs: 100, ...extra })
  t.after(async () => { await agent.close() })
  return { agent, spool, port: agent.address.port }
}

test('agent: spool states as replies: ready up, drain up, maint stopped, ready down; weights as <n>%', async (t) => {
  const { spool, port } = await agentOn(t)
  assert.equal(await askAgent(port, 'web\n'), 'ready up\n')
  await spool.down({ service: 'web' }, { reason: 'deploy', state: 'drain', creation: 1700000000 })
  assert.equal(await askAgent(port, 'web\n'), 'drain up #Service web in drain state since 1700000000.000000: deploy\n')
  await spool.down({ service: 'web' }, { reason: 'kernel', state: 'maint', creation: 1700000000 })
  assert.equal(await askAgent(port, 'web\n'), 'maint stopped #Service web in maint state since 1700000000.000000: kernel\n')
  await spool.down({ service: 'web' }, { reason: 'broken', creation: 1700000000 })
  assert.equal(await askAgent(port, 'web\n'), 'ready down #Service web in down state since 1700000000.000000: broken\n')
  await spool.up({ service: 'web' })
  await new SpoolWeights(spool).set({ service: 'web' }, 50)
  assert.equal(await askAgent(port, 'web\n'), 'ready up 50%\n')
  assert.equal(await askAgent(port, 'api\n'), 'ready up\n', 'weights are per service')
})

test('agent: the longest valid request line (249-character service and :65535) is answered from the spool', async (t) => {
  const { spool, port } = await agentOn(t)
  const service = 's'.repeat(249)
  await spool.down({ service, port: 65535 }, { reason: 'long', creation: 1700000000 })
  assert.equal(await askAgent(port, `${service}:65535\n`), `ready down #${`Service ${service}:65535 in down state since 1700000000.000000: long`.slice(0, 197)}...\n`)
  assert.equal(await askAgent(port, `${service}\n`), 'ready up\n')
})

test('agent: no line means the host (all); <service>:<port> reads the per-port file', async (t) => {
  const { spool, port } = await agentOn(t)
  assert.equal(await askAgent(port), 'ready up\n')
  await spool.down({ service: 'web', port: 8080 }, { reason: 'p', creation: 1 })
  assert.equal(await askAgent(port, 'web\n'), 'ready up\n')
  assert.equal(await askAgent(port, 'web:8080\r\n'), 'ready down #Service web in down state since 1.000000: p\n')
  await spool.down({ service: 'all' }, { reason: 'host', state: 'drain', creation: 1 })
  assert.equal(await askAgent(port), 'drain up #Service all in drain state since 1.000000: host\n')
  assert.equal(await askAgent(port, 'web', { end: true }), 'drain up #Service all in drain state since 1.000000: host\n', 'a line without newline, then half-close')
})

test('agent: a configured check runs through the health service (cache shared) and fails closed', async (t) => {
  const up = await httpUpstream(t)
  const { spool, port } = await agentOn(t, { agent_checks: { web: `http/${up.port}/health`, bad: `http/${up.port}/503` } })
  assert.equal(await askAgent(port, 'web\n'), 'ready up\n')
  assert.equal(await askAgent(port, 'web\n'), 'ready up\n')
  assert.equal(up.hits.get('/health'), 1, 'the second answer came from the cache')
  assert.equal(await askAgent(port, 'bad\n'), 'ready down #overloaded\n')
  await spool.down({ service: 'bad' }, { reason: 'deploy', state: 'drain' })
  assert.equal(await askAgent(port, 'bad\n'), 'drain down #overloaded\n', 'a draining service whose check fails is down too')
  await spool.down({ service: 'web' }, { reason: 'x', state: 'maint' })
  assert.match(await askAgent(port, 'web\n'), /^maint stopped #Service web in maint state/)
})

test('agent: the request port replaces the configured check port', async (t) => {
  const up = await httpUpstream(t)
  const { port } = await agentOn(t, { agent_checks: { web: `tcp/${await freePort()}` } })
  assert.match(await askAgent(port, 'web\n'), /^ready down #Unexpected error \[Errno 111\] Connection refused after /)
  assert.equal(await askAgent(port, `web:${up.port}\n`), 'ready up\n')
})

test('agent: unreadable spool or weight files answer down (fail closed)', async (t) => {
  const { spool, port } = await agentOn(t)
  await mkdir(join(spool.root, 'web'))
  assert.equal(await askAgent(port, 'web\n'), 'ready down #Service web in down state: spool entry web is not a regular file\n')
  await mkdir(join(spool.root, WEIGHT_DIR), { recursive: true })
  await writeFile(join(spool.root, WEIGHT_DIR, 'api'), 'not json')
  assert.equal(await askAgent(port, 'api\n'), 'ready down #invalid weight file @weight/api: weight must be an integer 0-256\n')
})

test('agent: garbage gets down #bad request and a close, and the server keeps serving', async (t) => {
  const { port } = await agentOn(t)
  for (const junk of ['../../etc/passwd\n', Buffer.from([0, 0xff, 0xfe, 0x0a]), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'web:99999\n']) {
    assert.equal(await askAgent(port, junk), 'down #bad request\n', String(junk))
  }
  assert.equal(await askAgent(port, 'x'.repeat(600)), 'down #bad request\n', 'a long line without newline is refused without waiting')
  const reset = connect(port, '127.0.0.1')
  reset.on('error', () => {})
  await new Promise((resolve) => reset.once('connect', resolve))
  reset.resetAndDestroy()
  assert.equal(await askAgent(port, 'web\n'), 'ready up\n')
})

test('agent: connections beyond maxConnections are closed at once; close() ends idle ones', async (t) => {
  const { agent, port } = await agentOn(t, {}, { maxConnections: 2, requestWaitMs: 10000 })
  const held: Socket[] = []
  for (let i = 0; i < 2; i++) {
    const s = connect(port, '127.0.0.1')
    s.on('error', () => {})
    held.push(s)
    await new Promise((resolve) => s.once('connect', resolve))
  }
  await waitFor(async () => agent.connections() === 2 ? true : undefined, HANG_MS, 'the server to hold both')
  const { value: reply, ms } = await untilSettled(async () => await askAgent(port, 'web\n', { timeoutMs: HANG_MS }), 'the third connection')
  assert.equal(reply, '', 'refused: closed with no reply, HAProxy keeps its last state')
  t.diagnostic(`the third connection: closed without a reply after ${ms.toFixed(0)} ms`)
  const closedAll = Promise.all(held.map(async (s) => await new Promise((resolve) => s.once('close', resolve))))
  await agent.close()
  await closedAll
})

test('startServer runs the agent on agent_port with the app runtime and closes it', async (t) => {
  const spool = await tempSpool(t)
  const server = await startServer({ config: makeConfig({ agent_checks: { web: 'spool/0' } }), spool, ports: [0], bindAddress: '127.0.0.1', agentPort: 0 })
  t.after(async () => { await server.close() })
  assert.ok(server.agent !== undefined)
  const port = server.agent.address.port
  await spool.down({ service: 'web' }, { reason: 'r', state: 'drain', creation: 1 })
  assert.equal(await askAgent(port, 'web\n'), 'drain up #Service web in drain state since 1.000000: r\n')
  const noAgent = await startServer({ config: makeConfig(), spool, ports: [0], bindAddress: '127.0.0.1' })
  assert.equal(noAgent.agent, undefined, 'no agent_port, no agent')
  await noAgent.close()
  await server.close()
  await assert.rejects(askAgent(port, 'web\n'), /ECONNREFUSED/)
})
