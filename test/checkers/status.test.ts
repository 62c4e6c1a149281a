import assert from 'node:assert/strict'
import { test } from 'node:test'
import { http } from '../../src/checkers/http.js'
import { https } from '../../src/checkers/https.js'
import { failureStatus, isPassingStatus } from '../../src/checkers/status.js'
import { tcp } from '../../src/checkers/tcp.js'
import { HealthService } from '../../src/checks/health.js'
import { makeConfig } from '../../src/config/index.js'
import { freePort, runChecker, tempSpool, untilSettled } from '../helper.js'
import { blackholePort, httpUpstream, httpsUpstream, tcpUpstream } from '../upstreams.js'

// The HAProxy check status of each way a probe ends (HAProxy configuration manual, "show stat"
// check_status). Each case runs the real checker against a real loopback peer.

test('status: passing probes are L4OK (tcp) and L7OK (http, https, 3xx included)', async (t) => {
  const plain = await httpUpstream(t)
  const tls = await httpsUpstream(t)
  assert.equal((await runChecker(tcp, plain.port)).checkStatus, 'L4OK')
  assert.equal((await runChecker(http, plain.port, {}, { query: 'health' })).checkStatus, 'L7OK')
  assert.equal((await runChecker(http, plain.port, {}, { query: '301' })).checkStatus, 'L7OK', 'HAProxy passes 2xx and 3xx')
  const secure = await runChecker(https, tls.port, {}, { query: 'health' })
  assert.deepEqual([secure.code, secure.checkStatus], [200, 'L7OK'], 'a passing HTTP check over TLS is L7OK, not L6OK')
})

test('status: refused connect is L4CON for http and https', async () => {
  const port = await freePort()
  assert.equal((await runChecker(http, port, {}, { query: 'health' })).checkStatus, 'L4CON')
  assert.equal((await runChecker(https, port, {}, { query: 'health' })).checkStatus, 'L4CON')
})

test('status: a connect that never completes is L4TOUT for http', async (t) => {
  const port = await blackholePort(t)
  const outcome = await runChecker(http, port, { healthcheck_timeout: 0.3 }, { query: 'health' })
  assert.deepEqual([outcome.code, outcome.checkStatus], [503, 'L4TOUT'])
})

test('status: 4xx and 5xx answers are L7STS', async (t) => {
  const up = await httpUpstream(t)
  for (const query of ['404', '501', '503']) {
    const outcome = await runChecker(http, up.port, {}, { query })
    assert.deepEqual([outcome.code, outcome.checkStatus], [Number(query), 'L7STS'], query)
  }
})

test('status: a slow HTTP answer is L7TOUT', async (t) => {
  const up = await httpUpstream(t)
  const outcome = await runChecker(http, up.port, { healthcheck_timeout: 0.3 }, { query: 'slow' })
  assert.deepEqual([outcome.code, outcome.checkStatus], [503, 'L7TOUT'])
})

test('status: garbage instead of an HTTP response is L7RSP', async (t) => {
  const garbage = await tcpUpstream(t, (socket) => { socket.end('SSH-2.0-OpenSSH_9.2\r\n\u0000\u0001\u0002 not http\r\n\r\n') })
  const outcome = await runChecker(http, garbage.port, {}, { query: 'health' })
  assert.deepEqual([outcome.code, outcome.checkStatus], [503, 'L7RSP'])
  assert.match(outcome.message, /^Unhandled exception /)
})

test('status: a TLS handshake failure is L6RSP (https against a plain HTTP port)', async (t) => {
  const plain = await httpUpstream(t)
  const outcome = await runChecker(https, plain.port, {}, { query: 'health' })
  assert.deepEqual([outcome.code, outcome.checkStatus], [503, 'L6RSP'])
})

test('status: a TLS handshake that never finishes is L6TOUT, within the timeout', async (t) => {
  const silent = await tcpUpstream(t)
  // Nothing else ends a handshake with a silent peer: without the probe's signal this never settles.
  const { value: outcome, ms } = await untilSettled(async () => await runChecker(https, silent.port, { healthcheck_timeout: 0.3 }, { query: 'health' }), 'a handshake with a silent peer')
  assert.deepEqual([outcome.code, outcome.checkStatus], [503, 'L6TOUT'])
  assert.match(outcome.message, /^Timed out waiting for the response after [0-9]+\.[0-9]{2}s$/)
  t.diagnostic(`timeout 0.3 s: answered after ${ms.toFixed(0)} ms`)
})

test('status: through the health service, timeouts keep their phase (L4TOUT, L6TOUT) and the time bound', async (t) => {
  const silent = await tcpUpstream(t)
  const blackhole = await blackholePort(t)
  const health = new HealthService({ config: makeConfig({ healthcheck_timeout: 0.3, cache_time: 0 }), spool: await tempSpool(t) })
  for (const [protocol, port, status] of [['https', silent.port, 'L6TOUT'], ['http', blackhole, 'L4TOUT']] as const) {
    const started = performance.now()
    const result = await health.check({ protocol, target: { service: 's', host: '127.0.0.1', address: '127.0.0.1', port, query: '', queryString: '', headers: {} }, noCache: false })
    // The checker's own timeout status, not the L7TOUT the health service gives for a checker
    // that overran its timeout and grace: the probe ended on its signal, at the timeout.
    assert.deepEqual([result.code, result.checkStatus], [503, status], protocol)
    t.diagnostic(`${protocol}: timeout 0.3 s, answered after ${(performance.now() - started).toFixed(0)} ms`)
  }
})

test('status: failureStatus maps phase and cause; local resource errors are SOCKERR', () => {
  assert.equal(failureStatus('connect', false, 'ECONNREFUSED'), 'L4CON')
  assert.equal(failureStatus('connect', true), 'L4TOUT')
  assert.equal(failureStatus('tls', false), 'L6RSP')
  assert.equal(failureStatus('tls', true), 'L6TOUT')
  assert.equal(failureStatus('protocol', false), 'L7RSP')
  assert.equal(failureStatus('protocol', true), 'L7TOUT')
  assert.equal(failureStatus('connect', false, 'EMFILE'), 'SOCKERR')
  assert.equal(failureStatus('connect', false, 'EADDRNOTAVAIL'), 'SOCKERR')
})

test('status: only L4OK, L6OK, L7OK and L7OKC count as passing', () => {
  for (const ok of ['L4OK', 'L6OK', 'L7OK', 'L7OKC'] as const) assert.equal(isPassingStatus(ok), true, ok)
  for (const bad of ['L4TOUT', 'L4CON', 'L6TOUT', 'L6RSP', 'L7TOUT', 'L7RSP', 'L7STS', 'SOCKERR'] as const) assert.equal(isPassingStatus(bad), false, bad)
})
