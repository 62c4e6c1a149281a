import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { checkers } from '../../../src/checkers/index.js'
import { up } from '../../../src/checkers/types.js'
import { CheckGuard, NAME_TTL_MS } from '../../../src/checks/check-guard.js'
import { buildTestApp, countingListener, HANG_MS, probeChecker, waitFor } from '../../helper.js'

const withProbe = { ...checkers, probe: probeChecker() }

test('a header pointing outside allowed_check_networks is a 403 and nothing connects there', async (t) => {
  const target = await countingListener(t, '127.0.0.2')
  const { app } = await buildTestApp(t, { allowed_check_networks: ['127.0.0.1/32'] }, { checkers: withProbe })
  for (const headers of [
    { 'x-nerve-check-ip': '127.0.0.2' },
    { 'x-haproxy-server-state': `UP 2/3; address=127.0.0.2; port=${target.port}; name=b/s` }
  ]) {
    const res = await app.inject({ url: `/probe/web/${target.port}/`, headers })
    assert.equal(res.statusCode, 403)
    assert.equal(res.body, 'check target 127.0.0.2 is not allowed: a loopback address outside allowed_check_networks')
    assert.equal(res.headers['content-type'], 'text/html; charset=UTF-8')
  }
  // A marker connection of our own: the listener accepts in arrival order, so a connection a
  // refused check had opened would be counted before it.
  connect(target.port, '127.0.0.2').on('error', () => {})
  await waitFor(async () => target.connections() > 0 ? true : undefined, HANG_MS, 'the marker connection')
  assert.equal(target.connections(), 1, 'no connection reached the refused target')
  const recent = await app.inject('/recent')
  assert.equal(JSON.parse(recent.body).seen_services[0][1].code, 403)
})

test('an allowed header target is probed at the address the guard approved', async (t) => {
  const target = await countingListener(t, '127.0.0.2')
  const { app } = await buildTestApp(t, { allowed_check_networks: ['127.0.0.0/30'] }, { checkers: withProbe })
  const res = await app.inject({ url: `/probe/web/${target.port}/`, headers: { 'x-nerve-check-ip': '127.0.0.2' } })
  assert.deepEqual([res.statusCode, res.body], [200, `connected to 127.0.0.2:${target.port}`])
  assert.equal(target.connections(), 1)
})

test('a host name is resolved once and the checker connects to that address, not a second lookup', async (t) => {
  const target = await countingListener(t, '127.0.0.3')
  const answers = ['127.0.0.3', '169.254.169.254'] // a rebinding resolver: the second answer differs
  let clock = 0
  const checkGuard = new CheckGuard({ networks: ['127.0.0.0/8'], timeoutMs: 1000, lookup: async () => answers.shift() ?? '0.0.0.0', nowMs: () => clock })
  const { app } = await buildTestApp(t, {}, { checkers: withProbe, checkGuard })
  const res = await app.inject({ url: `/probe/web/${target.port}/`, headers: { 'x-haproxy-server-state': 'UP; address=svc.test' } })
  assert.deepEqual([res.statusCode, res.body], [200, `connected to 127.0.0.3:${target.port}`])
  clock += NAME_TTL_MS // the name's resolution expires: the next check looks it up again
  const again = await app.inject({ url: `/probe/web/${target.port}/`, headers: { 'x-haproxy-server-state': 'UP; address=svc.test' } })
  assert.equal(again.statusCode, 403)
  assert.match(again.body, /svc\.test \(169\.254\.169\.254\) is not allowed: a cloud metadata address/)
  assert.equal(target.connections(), 1)
})

test('the default policy allows the plain local check and refuses metadata before the checker runs', async (t) => {
  const local = await countingListener(t)
  const calls: string[] = []
  // This checker never connects anywhere but loopback: it records what it was asked.
  const recorder = { ...probeChecker(), check: async (target: { host: string, port: number }) => { calls.push(target.host); return up('') } }
  const { app } = await buildTestApp(t, {}, { checkers: { ...checkers, probe: probeChecker(), recorder } })
  assert.equal((await app.inject(`/probe/web/${local.port}/`)).statusCode, 200)
  const res = await app.inject({ url: '/recorder/web/80/', headers: { 'x-nerve-check-ip': '169.254.169.254' } })
  assert.equal(res.statusCode, 403)
  assert.deepEqual(calls, [])
})

test('the spool protocol never probes, so the guard does not apply to it', async (t) => {
  const { app } = await buildTestApp(t, { allowed_check_networks: ['127.0.0.1/32'] })
  const res = await app.inject({ url: '/spool/web/80/', headers: { 'x-nerve-check-ip': '169.254.169.254' } })
  assert.equal(res.statusCode, 200)
})
