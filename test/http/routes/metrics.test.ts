import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkers } from '../../../src/checkers/index.js'
import { HealthService } from '../../../src/checks/health.js'
import { buildTestApp, countingListener, probeChecker } from '../../helper.js'
import { parsePrometheus as parseMetrics, sampleValue as sample } from '../../prometheus.js'

test('GET /metrics is Prometheus text and its counters move with checks', async (t) => {
  const { app, spool } = await buildTestApp(t)
  let res = await app.inject('/metrics')
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  let m = parseMetrics(res.body)
  assert.equal(m.get('hacheck_checks_total')?.type, 'counter')
  assert.equal(sample(m, 'hacheck_checks_total', { protocol: 'spool', code: '200' }), 0)
  assert.equal(sample(m, 'hacheck_build_info'), 1)
  assert.ok(m.has('process_cpu_user_seconds_total'), 'process metrics are in the same registry')
  assert.ok(m.has('nodejs_eventloop_lag_seconds'))

  await app.inject('/spool/web/0/')
  await app.inject('/spool/web/0/')
  await spool.down({ service: 'api' }, { reason: 'x' })
  await app.inject('/spool/api/0/')
  m = parseMetrics((await app.inject('/metrics')).body)
  assert.equal(sample(m, 'hacheck_checks_total', { protocol: 'spool', code: '200' }), 2)
  assert.equal(sample(m, 'hacheck_checks_total', { protocol: 'spool', code: '503' }), 1)
  assert.equal(sample(m, 'hacheck_checks_total', { protocol: 'spool', code: '503', check_status: 'L7STS' }), 1, 'labelled with the HAProxy check status')
  assert.equal(sample(m, 'hacheck_checks_total', { protocol: 'spool', code: '200', check_status: 'L7OK' }), 2)
  assert.equal(sample(m, 'hacheck_spool_down_entries'), 1)
  assert.equal(m.get('hacheck_spool_down_entries')?.type, 'gauge')
  res = await app.inject({ method: 'POST', url: '/spool/web/0/', payload: '' })
  m = parseMetrics((await app.inject('/metrics')).body)
  assert.equal(sample(m, 'hacheck_remote_spool_requests_total', { code: '403' }), 1)
})

test('probe durations are observed for probing protocols only; stats are read at scrape time', async (t) => {
  const target = await countingListener(t)
  const { app, config, spool } = await buildTestApp(t)
  const health = new HealthService({ config, spool, checkers: { ...checkers, probe: probeChecker() } })
  let stats = { hits: 7, misses: 3, inFlight: 2, queued: 5 }
  // A stand-in reports fixed values, to show they are read at scrape time.
  health.stats = () => ({
    cache: { gets: 10, hits: stats.hits, misses: stats.misses, sets: 3, expirations: 0 },
    outbound_request_queue_size: stats.queued,
    outbound_in_flight: stats.inFlight,
    outbound_slot_timeouts: 0
  })
  const withProbe = await buildTestApp(t, {}, { spool, health, checkers: { ...checkers, probe: probeChecker() } })
  await withProbe.app.inject(`/probe/web/${target.port}/`)
  await withProbe.app.inject('/spool/web/0/')
  let m = parseMetrics((await withProbe.app.inject('/metrics')).body)
  assert.equal(m.get('hacheck_probe_duration_seconds')?.type, 'histogram')
  assert.equal(sample(m, 'hacheck_probe_duration_seconds_count', { protocol: 'probe' }), 1)
  assert.ok(sample(m, 'hacheck_probe_duration_seconds_sum', { protocol: 'probe' }) > 0)
  assert.equal(sample(m, 'hacheck_probe_duration_seconds_bucket', { protocol: 'probe', le: '+Inf' }), 1)
  assert.equal(sample(m, 'hacheck_probe_duration_seconds_count', { protocol: 'spool' }), 0, 'spool answers are not probes')
  assert.deepEqual([
    sample(m, 'hacheck_cache_hits_total'), sample(m, 'hacheck_cache_misses_total'),
    sample(m, 'hacheck_outbound_in_flight'), sample(m, 'hacheck_outbound_queue_size')
  ], [7, 3, 2, 5])
  stats = { hits: 9, misses: 4, inFlight: 0, queued: 0 }
  m = parseMetrics((await withProbe.app.inject('/metrics')).body)
  assert.deepEqual([sample(m, 'hacheck_cache_hits_total'), sample(m, 'hacheck_outbound_in_flight')], [9, 0])
  // Two apps built in one process do not share counters (a registry per runtime).
  m = parseMetrics((await app.inject('/metrics')).body)
  assert.equal(sample(m, 'hacheck_checks_total', { protocol: 'probe', code: '200' }), 0)
})

test('cached answers are not probes: the histogram counts real probes, the cache counters are real', async (t) => {
  const target = await countingListener(t)
  const { app } = await buildTestApp(t, {}, { checkers: { ...checkers, probe: probeChecker() } })
  for (let i = 0; i < 3; i++) assert.equal((await app.inject(`/probe/web/${target.port}/`)).statusCode, 200)
  const m = parseMetrics((await app.inject('/metrics')).body)
  assert.equal(target.connections(), 1)
  assert.equal(sample(m, 'hacheck_checks_total', { protocol: 'probe', code: '200' }), 3)
  assert.equal(sample(m, 'hacheck_probe_duration_seconds_count', { protocol: 'probe' }), 1)
  assert.deepEqual([sample(m, 'hacheck_cache_hits_total'), sample(m, 'hacheck_cache_misses_total')], [2, 1])
})

test('/status keeps CONTRACT section 4 (its keys first, in order), then ours', async (t) => {
  const { app } = await buildTestApp(t)
  assert.deepEqual(Object.keys(JSON.parse((await app.inject('/status')).body)), ['cache', 'uptime', 'outbound_request_queue_size', 'outbound_slot_timeouts'])
})

test('the test reader itself refuses what is not exposition format', () => {
  for (const bad of ['x 1', 'no_type_line 1\n', '# TYPE a counter\na{l="x} 1\n', '# TYPE a counter\na 1 2 3\n', '# TYPE a counter\na one\n']) {
    assert.throws(() => parseMetrics(bad), assert.AssertionError, bad)
  }
  assert.equal(sample(parseMetrics('# TYPE a gauge\na{l="q\\"x"} Nan\n'), 'a', { l: 'q"x' }), Number.NaN)
})
