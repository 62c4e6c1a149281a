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
import { buildTestApp, tempSpool, turnsUntil, waitFor } from '../helper.js'
import { parsePrometheus, sampleValue } from '../prometheus.js'

/**
 * Holds its slot, ignoring its signal, until the test calls `release()`; `started` resolves once
 * it runs. An event to wait on instead of a guess at how long a probe takes.
 */
function held (): { checker: Checker, started: Promise<void>, release: () => void } {
  let release = (): void => {}
  let begin = (): void => {}
  const started = new Promise<void>((resolve) => { begin = resolve })
  const done = new Promise<void>((resolve) => { release = resolve })
  return { checker: { probes: true, pathRequired: false, check: async () => { begin(); await done; return up('late') } }, started, release }
}

/** Answers after `ms` unless its signal fires first: then a connect timeout, as a real checker reports it. */
function honest (ms: number, onStart: () => void = () => {}): Checker {
  return {
    probes: true,
    pathRequired: false,
    check: async (_target, ctx) => await new Promise((resolve) => {
      onStart()
      const timer = setTimeout(() => { resolve(up('ok')) }, ms)
      ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(down('Connection timed out after 0.00s', 'L4TOUT')) }, { once: true })
    })
  }
}

const target = (port: number): CheckTarget => ({ service: 's', host: '127.0.0.1', address: '127.0.0.1', port, query: '', queryString: '', headers: {} })

test('a check that waited for a slot still has its whole healthcheck_timeout: a healthy service is not blamed', async (t) => {
  // Mocked timers and a clock that follows them: the wait and the probe take exactly what the
  // test says, however busy the machine is.
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  const config = makeConfig({ max_clients: 1, healthcheck_timeout: 1, cache_time: 0 })
  const busy = held()
  let probing = false
  const health = new HealthService({
    config, spool: await tempSpool(t), perf: { now: () => Date.now() }, checkers: { busy: busy.checker, service: honest(300, () => { probing = true }) }
  })
  const holding = health.check({ protocol: 'busy' as Protocol, target: target(1), noCache: false })
  await busy.started
  const pending = health.check({ protocol: 'service' as Protocol, target: target(2), noCache: false })
  await turnsUntil(() => health.stats().outbound_request_queue_size === 1, 'the check to wait for the slot')
  t.mock.timers.tick(900) // 0.9 s of the 1 s timeout spent waiting
  busy.release()
  await turnsUntil(() => probing, 'the probe to start on the freed slot')
  t.mock.timers.tick(300) // the probe's own 0.3 s: past the 1 s since it was asked, within its own timeout
  const result = await pending
  assert.deepEqual([result.code, result.checkStatus, result.message], [200, 'L7OK', 'ok'])
  assert.equal(result.durationMs, 300, 'the duration is the probe\'s own, not the wait')
  await holding
})

test('a check that gets no slot: 503 SOCKERR saying so, not cached, counted in /status and metrics', async (t) => {
  const busy = held()
  const { app } = await buildTestApp(t, { max_clients: 1, healthcheck_timeout: 0.3, cache_time: 10 }, {
    checkers: { ...checkers, busy: busy.checker, quick: honest(10) }
  })
  const holding = app.inject('/busy/web/1/')
  await busy.started
  const starved = await app.inject('/quick/api/2/')
  assert.equal(starved.statusCode, 503)
  assert.equal(starved.headers['x-hacheck-status'], 'SOCKERR')
  assert.match(starved.body, /^Not checked: no outbound slot free within [0-9]+\.[0-9]{2}s \(max_clients 1 probes in flight, [0-9]+ waiting\); hacheck is overloaded, this says nothing about the service$/)
  const status = (await app.inject('/status')).json()
  assert.equal(status.outbound_slot_timeouts, 1)
  const m = parsePrometheus((await app.inject('/metrics')).body)
  assert.equal(sampleValue(m, 'hacheck_outbound_slot_timeouts_total'), 1)
  assert.equal(sampleValue(m, 'hacheck_probe_duration_seconds_count', { protocol: 'quick' }), 0, 'no probe ran')
  await holding // answered at its timeout; the checker that ignores its signal holds the slot until released
  busy.release()
  await waitFor(async () => sampleValue(parsePrometheus((await app.inject('/metrics')).body), 'hacheck_outbound_in_flight') === 0 ? true : undefined, 5000, 'the slot to free')
  const later = await app.inject('/quick/api/2/')
  assert.deepEqual([later.statusCode, later.body], [200, 'ok'], 'the overload answer was not cached')
})

test('outbound slots are fair between clients: one flooding address queues behind itself', async (t) => {
  const config = makeConfig({ max_clients: 2, healthcheck_timeout: 10, cache_time: 0 })
  const started: string[] = []
  const running: Array<() => void> = []
  // Each flooder probe holds its slot until the test ends it; the order probes start in is the point.
  const flooder: Checker = { probes: true, pathRequired: false, check: async () => { started.push('flood'); await new Promise<void>((resolve) => running.push(resolve)); return up('ok') } }
  const quick: Checker = { probes: true, pathRequired: false, check: async () => { started.push('quick'); return up('ok') } }
  const health = new HealthService({ config, spool: await tempSpool(t), checkers: { flooder, quick } })
  // 20 distinct probes from one client for 2 slots.
  const flood = Array.from({ length: 20 }, async (_, i) => await health.check({ protocol: 'flooder' as Protocol, target: target(1000 + i), noCache: false, client: '10.0.0.66' }))
  await waitFor(async () => health.stats().outbound_request_queue_size === 18 ? true : undefined, 5000, 'the flood queued')
  const result = health.check({ protocol: 'quick' as Protocol, target: target(1), noCache: false, client: '10.0.0.1' })
  await waitFor(async () => health.stats().outbound_request_queue_size === 19 ? true : undefined, 5000, 'the other client queued')
  for (const end of running.splice(0)) end() // the two probes in flight end: two slots free
  assert.equal((await result).code, 200)
  t.diagnostic(`probes started, in order: ${started.join(' ')}`)
  assert.ok(started.slice(0, 4).includes('quick'), 'the other client takes one of the two freed slots, not the 19th')
  assert.ok(health.stats().outbound_request_queue_size >= 14, 'the flooder\'s probes still wait their turn')
  while (started.length < 21 || running.length > 0) {
    for (const end of running.splice(0)) end()
    await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(flood)
})
