import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { Protocol } from '../../src/checkers/index.js'
import { up, type Checker, type CheckTarget } from '../../src/checkers/types.js'
import { HealthService } from '../../src/checks/health.js'
import { TIMEOUT_GRACE_MS } from '../../src/checks/outbound.js'
import type { CheckResult } from '../../src/checks/result.js'
import { makeConfig } from '../../src/config/index.js'
import { buildTestApp, tempSpool, turnsUntil, waitFor } from '../helper.js'
import { httpUpstream, type HttpUpstream } from '../upstreams.js'

/**
 * An upstream whose `/gate` answers `n=<count>` at once while open, and otherwise holds each
 * request until `open()`: a probe stays in flight exactly as long as the test needs.
 */
async function gatedUpstream (t: TestContext): Promise<HttpUpstream & { open: () => void, close: () => void }> {
  let n = 0
  let opened = true
  const waiting: Array<() => void> = []
  const up = await httpUpstream(t, {
    '/gate': (_req, res) => {
      const answer = (): void => { res.end(`n=${++n}`) }
      if (opened) answer()
      else waiting.push(answer)
    }
  })
  return Object.assign(up, {
    open: () => { opened = true; for (const answer of waiting.splice(0)) answer() },
    close: () => { opened = false }
  })
}

test('coalescing: 50 concurrent identical requests on a cold key reach the upstream once', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  const responses = await Promise.all(Array.from({ length: 50 }, async () => await app.inject(`/http/web/${up.port}/slow200`)))
  assert.ok(responses.every((r) => r.statusCode === 200 && r.body === 'n=1'))
  assert.equal(up.hits.get('/slow200'), 1)
  assert.deepEqual((await app.inject('/status')).json().cache, { gets: 50, hits: 49, misses: 1, sets: 1, expirations: 0 })
})

test('Pragma: no-cache re-probes for that request only; a concurrent request keeps the cache', async (t) => {
  const up = await gatedUpstream(t)
  const { app } = await buildTestApp(t)
  const url = `/http/web/${up.port}/gate`
  assert.equal((await app.inject(url)).body, 'n=1')
  up.close()
  let forcedDone = false
  const forced = app.inject({ url, headers: { pragma: 'no-cache' } }).finally(() => { forcedDone = true })
  await waitFor(async () => up.hits.get('/gate') === 2 ? true : undefined, 5000, 'the forced probe at the upstream')
  const normal = await app.inject(url)
  assert.equal(normal.body, 'n=1', 'served from the cache')
  assert.equal(forcedDone, false, 'without waiting for the forced probe (still held at the upstream)')
  up.open()
  assert.equal((await forced).body, 'n=2')
  assert.equal((await app.inject(url)).body, 'n=2', 'the fresh result was stored')
  assert.equal(up.hits.get('/gate'), 2)
})

test('cache key: two service names on the same port and path share one probe', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  await app.inject(`/http/web/${up.port}/count`)
  const res = await app.inject(`/http/api/${up.port}/count`)
  assert.equal(res.body, 'n=1')
  assert.equal(up.hits.get('/count'), 1)
})

test('cache key: with service_name_header the service joins the key', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t, { service_name_header: 'X-Service' })
  await app.inject(`/http/web/${up.port}/count`)
  assert.equal((await app.inject(`/http/api/${up.port}/count`)).body, 'n=2')
  assert.equal((await app.inject(`/http/web/${up.port}/count`)).body, 'n=1')
})

test('cache key: ?a=1 and ?a=2 do not share; the same query string does', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  assert.equal((await app.inject(`/http/web/${up.port}/count?a=1`)).body, 'n=1')
  assert.equal((await app.inject(`/http/web/${up.port}/count?a=2`)).body, 'n=2')
  assert.equal((await app.inject(`/http/web/${up.port}/count?a=1`)).body, 'n=1')
})

test('failures are cached for cache_time too', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t)
  for (let i = 0; i < 3; i++) assert.equal((await app.inject(`/http/web/${up.port}/503`)).statusCode, 503)
  assert.equal(up.hits.get('/503'), 1)
})

test('a spool down answers 503 without contacting the upstream', async (t) => {
  const up = await httpUpstream(t)
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web' }, { reason: 'maintenance' })
  const res = await app.inject(`/http/web/${up.port}/health`)
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^Service web in down state since .*: maintenance$/)
  assert.equal(up.requests(), 0)
  assert.equal(up.connections(), 0)
  assert.equal((await app.inject('/status')).json().cache.gets, 0, 'spool answers never touch the cache')
})

test('cache expirations are counted in /status', async (t) => {
  const up = await httpUpstream(t)
  const { app } = await buildTestApp(t, { cache_time: 0.05 })
  await app.inject(`/http/web/${up.port}/health`)
  await new Promise((resolve) => setTimeout(resolve, 80))
  await app.inject(`/http/web/${up.port}/health`)
  assert.deepEqual((await app.inject('/status')).json().cache, { gets: 2, hits: 0, misses: 2, sets: 2, expirations: 1 })
})

test('max_clients bounds probes in flight; the rest wait and /status reports the queue', async (t) => {
  const up = await gatedUpstream(t)
  const { app } = await buildTestApp(t, { max_clients: 2, healthcheck_timeout: 30 })
  up.close()
  const pending = [1, 2, 3, 4, 5].map(async (i) => await app.inject(`/http/web/${up.port}/gate?i=${i}`))
  await waitFor(async () => up.requests() === 2 && (await app.inject('/status')).json().outbound_request_queue_size === 3 ? true : undefined, 5000, 'two probes held, three waiting')
  up.open()
  const responses = await Promise.all(pending)
  assert.ok(responses.every((r) => r.statusCode === 200))
  assert.equal(up.peakConcurrency(), 2)
  assert.equal((await app.inject('/status')).json().outbound_request_queue_size, 0)
})

test('a probe waiting for a slot past healthcheck_timeout answers 503 in time', async (t) => {
  // Mocked timers and a clock that follows them: "in time" is exact, whatever the machine's load.
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  // A checker that ignores its signal holds the only slot for good.
  let release = (): void => {}
  const stuck: Checker = { probes: true, pathRequired: false, check: async () => { await new Promise<void>((resolve) => { release = resolve }); return up('late') } }
  t.after(() => { release() })
  const config = makeConfig({ max_clients: 1, healthcheck_timeout: 0.2 })
  const health = new HealthService({ config, spool: await tempSpool(t), checkers: { stuck }, perf: { now: () => Date.now() } })
  const target = (port: number): CheckTarget => ({ service: 's', host: '127.0.0.1', address: '127.0.0.1', port, query: '', queryString: '', headers: {} })
  const results: CheckResult[] = []
  for (const port of [1, 2]) health.check({ protocol: 'stuck' as Protocol, target: target(port), noCache: false }).then((r) => { results.push(r) }, () => {})
  await turnsUntil(() => health.stats().outbound_request_queue_size === 1, 'one probe on the slot, one waiting')
  t.mock.timers.tick(200) // healthcheck_timeout: the waiting one gives up, the probe's signal aborts
  await turnsUntil(() => results.length === 1, 'the waiting check answered at the timeout')
  t.mock.timers.tick(TIMEOUT_GRACE_MS - 1)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(results.length, 1, 'the stuck probe has its grace to report its own timeout')
  t.mock.timers.tick(1)
  await turnsUntil(() => results.length === 2, 'the stuck probe answered for at timeout + grace')
  const [second, first] = results as [CheckResult, CheckResult]
  assert.deepEqual([first.code, first.checkStatus, first.message], [503, 'L7TOUT', `Timed out after ${(0.2 + TIMEOUT_GRACE_MS / 1000).toFixed(2)}s`])
  assert.deepEqual([second.code, second.checkStatus], [503, 'SOCKERR'])
  assert.match(second.message, /^Not checked: no outbound slot free within 0\.20s \(max_clients 1 probes in flight/)
})

for (const probes of [true, false]) {
  test(`a checker that throws answers 503 (fail closed), probes: ${String(probes)}`, async (t) => {
    const broken: Checker = { probes, pathRequired: false, check: async () => { throw new TypeError('bug') } }
    const health = new HealthService({ config: makeConfig(), spool: await tempSpool(t), checkers: { broken } })
    const result = await health.check({
      protocol: 'broken' as Protocol,
      target: { service: 's', host: '127.0.0.1', address: '127.0.0.1', port: 1, query: '', queryString: '', headers: {} },
      noCache: false
    })
    assert.deepEqual([result.code, result.message], [503, 'Unhandled exception TypeError: bug'])
  })
}
