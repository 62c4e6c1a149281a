/**
 * `max_clients` starvation is ours, never the service's (issue 10, item 8): a check that waited
 * for an outbound slot still gets its whole `healthcheck_timeout`, and a check that got no slot
 * says so (503 SOCKERR, `Not checked: ...`), is not cached, and shows in /status and metrics.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkers } from '../../src/checkers/index.js'
import type { Protocol } from '../../src/checkers/index.js'
import { down, up, type Checker, type CheckTarget } from '../../src/checkers/types.js'
import { HealthService } from '../../src/checks/health.js'
import { makeConfig } from '../../src/config/index.js'
import { buildTestApp, tempSpool, waitFor } from '../helper.js'
import { parsePrometheus, sampleValue } from '../prometheus.js'

/** Answers after `ms`, ignoring its signal (holds its slot that long). */
function holding (ms: number): Checker {
  return { probes: true, pathRequired: false, check: async () => await new Promise((resolve) => setTimeout(() => { resolve(up('late')) }, ms)) }
}

/** Answers after `ms` unless its signal fires first: then a connect timeout, as a real checker reports it. */
function honest (ms: number): Checker {
  return {
    probes: true,
    pathRequired: false,
    check: async (_target, ctx) => await new Promise((resolve) => {
      const timer = setTimeout(() => { resolve(up('ok')) }, ms)
      ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(down('Connection timed out after 0.00s', 'L4TOUT')) }, { once: true })
    })
  }
}

const target = (port: number): CheckTarget => ({ service: 's', host: '127.0.0.1', address: '127.0.0.1', port, query: '', queryString: '', headers: {} })

test('a check that waited for a slot still has its whole healthcheck_timeout: a healthy service is not blamed', async (t) => {
  const config = makeConfig({ max_clients: 1, healthcheck_timeout: 1, cache_time: 0 })
  const health = new HealthService({ config, spool: await tempSpool(t), checkers: { busy: holding(900), service: honest(300) } })
  const busy = health.check({ protocol: 'busy' as Protocol, target: target(1), noCache: false })
  await new Promise((resolve) => setTimeout(resolve, 20))
  const started = Date.now()
  const result = await health.check({ protocol: 'service' as Protocol, target: target(2), noCache: false })
  t.diagnostic(`answered after ${Date.now() - started} ms: ${result.code} ${result.checkStatus} ${result.message}`)
  assert.deepEqual([result.code, result.checkStatus, result.message], [200, 'L7OK', 'ok'])
  assert.ok(result.durationMs < 600, `duration ${result.durationMs} ms is the probe's own, not the wait`)
  await busy
})

test('a check that gets no slot: 503 SOCKERR saying so, not cached, counted in /status and metrics', async (t) => {
  const { app } = await buildTestApp(t, { max_clients: 1, healthcheck_timeout: 0.3, cache_time: 10 }, {
    checkers: { ...checkers, busy: holding(1200), quick: honest(10) }
  })
  const busy = app.inject('/busy/web/1/')
  await new Promise((resolve) => setTimeout(resolve, 20))
  const starved = await app.inject('/quick/api/2/')
  assert.equal(starved.statusCode, 503)
  assert.equal(starved.headers['x-hacheck-status'], 'SOCKERR')
  assert.match(starved.body, /^Not checked: no outbound slot free within 0\.[0-9]{2}s \(max_clients 1 probes in flight, [0-9]+ waiting\); hacheck is overloaded, this says nothing about the service$/)
  const status = (await app.inject('/status')).json()
  assert.equal(status.outbound_slot_timeouts, 1)
  const m = parsePrometheus((await app.inject('/metrics')).body)
  assert.equal(sampleValue(m, 'hacheck_outbound_slot_timeouts_total'), 1)
  assert.equal(sampleValue(m, 'hacheck_probe_duration_seconds_count', { protocol: 'quick' }), 0, 'no probe ran')
  await busy // answered at its timeout; the checker that ignores its signal holds the slot longer
  await waitFor(async () => sampleValue(parsePrometheus((await app.inject('/metrics')).body), 'hacheck_outbound_in_flight') === 0 ? true : undefined, 3000, 'the slot to free')
  const later = await app.inject('/quick/api/2/')
  assert.deepEqual([later.statusCode, later.body], [200, 'ok'], 'the overload answer was not cached')
})

test('outbound slots are fair between clients: one flooding address queues behind itself', async (t) => {
  const config = makeConfig({ max_clients: 2, healthcheck_timeout: 10, cache_time: 0 })
  const health = new HealthService({ config, spool: await tempSpool(t), checkers: { slow: honest(200), quick: honest(5) } })
  // 20 distinct probes of 200 ms from one client: 2 s of work for 2 slots.
  const flood = Array.from({ length: 20 }, async (_, i) => await health.check({ protocol: 'slow' as Protocol, target: target(1000 + i), noCache: false, client: '10.0.0.66' }))
  await new Promise((resolve) => setTimeout(resolve, 20))
  const started = Date.now()
  const result = await health.check({ protocol: 'quick' as Protocol, target: target(1), noCache: false, client: '10.0.0.1' })
  const waited = Date.now() - started
  t.diagnostic(`the other client waited ${waited} ms behind 18 queued probes of the flooder`)
  assert.equal(result.code, 200)
  assert.ok(waited < 600, `waited ${waited} ms: it should take the next free slot, not the 10th`)
  assert.ok(health.stats().outbound_request_queue_size >= 14, 'the flooder\'s probes still wait their turn')
  await Promise.all(flood)
})
