/**
 * `/metrics` of the built `bin/hacheck`, after checks, spool answers and a remote spool change,
 * passes `promtool check metrics` (Debian package prometheus): the exposition format, and
 * Prometheus's naming rules (no `_total` on a gauge, among others); and so does what `-n`
 * workers serve, the cluster's aggregation of their registries.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { AggregatorRegistry } from 'prom-client'
import { HealthService } from '../../src/checks/health.js'
import { makeConfig } from '../../src/config/index.js'
import { Metrics, REDUNDANT_TOTAL_GAUGES } from '../../src/ops/metrics.js'
import { tempSpool } from '../helper.js'
import { parsePrometheus } from '../prometheus.js'
import { httpUpstream } from '../upstreams.js'
import { startHacheckProcess, type HacheckProcess } from './hacheck-process.js'

/** Runs `promtool check metrics` on `text`; resolves with its exit code and output. */
async function promtool (text: string): Promise<{ code: number | null, output: string }> {
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => { output += String(d) })
  child.stderr.on('data', (d) => { output += String(d) })
  child.stdin.end(text)
  const code = await new Promise<number | null>((resolve, reject) => { child.on('error', reject); child.on('close', resolve) })
  return { code, output }
}

async function scrapeAfterTraffic (t: TestContext, hc: HacheckProcess): Promise<string> {
  const upstream = await httpUpstream(t)
  await writeFile(join(hc.spoolRoot, 'db'), '{"reason": "x", "expiration": null, "creation": 1}')
  for (const path of [`/http/web/${upstream.port}/health`, '/spool/db/0/', '/tcp/gone/1/', '/recent']) await (await fetch(hc.url(path))).arrayBuffer()
  await (await fetch(hc.url('/spool/web/0/'), { method: 'POST', body: new URLSearchParams({ status: 'down', reason: 'x' }) })).arrayBuffer()
  const res = await fetch(hc.url('/metrics'))
  assert.equal(res.status, 200)
  return await res.text()
}

test('promtool check metrics passes on a live /metrics', async (t) => {
  const hc = await startHacheckProcess(t)
  const text = await scrapeAfterTraffic(t, hc)
  const families = parsePrometheus(text)
  for (const name of ['hacheck_checks_total', 'hacheck_remote_spool_requests_total', 'nodejs_active_handles', 'process_cpu_seconds_total']) {
    assert.ok(families.has(name), `${name} is served`)
  }
  for (const name of REDUNDANT_TOTAL_GAUGES) assert.ok(!families.has(name), `${name} is not served`)
  const { code, output } = await promtool(text)
  t.diagnostic(`promtool: exit ${String(code)}${output === '' ? ', no complaint' : `: ${output}`}; ${families.size} families`)
  assert.deepEqual({ code, output }, { code: 0, output: '' })
})

test('promtool check metrics passes on what -n workers serve: two registries aggregated as the cluster does', async (t) => {
  const registries = await Promise.all([1, 2].map(async () => {
    const spool = await tempSpool(t)
    const health = new HealthService({ config: makeConfig(), spool })
    const metrics = new Metrics({ health, spool })
    metrics.observeCheck('http', 200, 'L7OK')
    return await metrics.registry.getMetricsAsJSON()
  }))
  const text = await AggregatorRegistry.aggregate(registries).metrics()
  for (const name of REDUNDANT_TOTAL_GAUGES) assert.ok(!parsePrometheus(text).has(name), `${name} is not served`)
  assert.deepEqual(await promtool(text), { code: 0, output: '' })
})
