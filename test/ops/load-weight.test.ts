import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { makeConfig, type Config } from '../../src/config/index.js'
import { LoadSampler, SCOPES_PER_TURN, loadWeightFor, nextWeight } from '../../src/ops/load-weight.js'
import { readPressureFile } from '../../src/ops/pressure.js'
import { configValues, tempDir } from '../helper.js'
import { writePressure } from './pressure-fixtures.js'

/** A log that keeps what it was told. */
function recordingLog (): { warn: (obj: object, msg: string) => void, info: (obj: object, msg: string) => void, lines: Array<{ level: string, obj: Record<string, unknown>, msg: string }> } {
  const lines: Array<{ level: string, obj: Record<string, unknown>, msg: string }> = []
  return {
    lines,
    warn: (obj, msg) => { lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }) },
    info: (obj, msg) => { lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }) }
  }
}

/** A config with load weights on, reading fixture files under a temp pressure_root. */
async function fixture (t: TestContext, overrides: Partial<Record<keyof Config, unknown>> = {}): Promise<{ root: string, config: Config }> {
  const root = join(await tempDir(t, 'hacheck-pressure-'), 'pressure')
  await mkdir(root)
  const config = makeConfig({ load_weight_sources: ['cpu'], pressure_root: root, ...overrides })
  return { root, config }
}

function sampler (config: Config, extra: Partial<ConstructorParameters<typeof LoadSampler>[0]> = {}): LoadSampler {
  assert.ok(config.loadWeight !== null)
  return new LoadSampler({ settings: config.loadWeight, ...extra })
}

test('the rule: weight = clamp(round(100 - k x pressure), floor, 100)', () => {
  const rule = { factor: 1, floor: 10 }
  assert.deepEqual([0, 0.4, 0.5, 37.4, 40, 89.9, 95, 100].map((p) => loadWeightFor(p, rule)), [100, 100, 100, 63, 60, 10, 10, 10])
  assert.deepEqual([0, 20, 40, 45].map((p) => loadWeightFor(p, { factor: 2, floor: 10 })), [100, 60, 20, 10])
  assert.deepEqual([10, 50].map((p) => loadWeightFor(p, { factor: 0.5, floor: 1 })), [95, 75])
})

test('hysteresis: a new weight is used when it moves at least the hysteresis, or reaches 100 or the floor', () => {
  const rule = { hysteresis: 5, floor: 10 }
  assert.equal(nextWeight(null, 63, rule), 63, 'nothing in use: the first reading counts')
  assert.equal(nextWeight(63, 60, rule), 63, '3 points: kept')
  assert.equal(nextWeight(63, 67, rule), 63, '4 points: kept')
  assert.equal(nextWeight(63, 58, rule), 58, '5 points: used')
  assert.equal(nextWeight(97, 100, rule), 100, 'back to 100 always')
  assert.equal(nextWeight(12, 10, rule), 10, 'down to the floor always')
  assert.equal(nextWeight(63, 70, { hysteresis: 0, floor: 10 }), 70)
})

test('sampler: 0 %, 40 %, 95 % give 100, 60 and the floor; wobbles inside the hysteresis keep the weight', async (t) => {
  const { root, config } = await fixture(t)
  const load = sampler(config)
  assert.equal(load.weight('web'), null, 'nothing read yet')
  for (const [percent, weight] of [[0, 100], [40, 60], [95, 10], [40, 60], [42, 60], [38, 60], [36, 60], [35, 65], [0, 100]] as const) {
    await writePressure(root, 'cpu', percent)
    load.sample()
    assert.equal(load.weight('web'), weight, `pressure ${percent} %`)
    assert.equal(load.weight('all'), weight, 'every service without a cgroup follows the host')
  }
  const [host] = load.scopes()
  assert.deepEqual({ ...host, inputs: undefined, sampledAtMs: undefined }, {
    service: 'all', kind: 'host', dir: root, weight: 100, computed: 100, pressure: 0, inputs: undefined, sampledAtMs: undefined
  })
})

test('sampler: the highest pressure of the configured sources counts; the window chosen is read', async (t) => {
  const { root, config } = await fixture(t, { load_weight_sources: ['cpu', 'memory', 'io'], load_weight_window: 'avg60' })
  await writePressure(root, 'cpu', 10)
  await writePressure(root, 'memory', 30)
  await writeFile(join(root, 'io'), 'some avg10=90.00 avg60=5.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n')
  const load = sampler(config)
  load.sample()
  assert.equal(load.weight('web'), 70, 'memory 30 % is the highest avg60; io avg10 90 % is not the window read')
  assert.equal(load.scopeOf('web').pressure, 30)
})

test('sampler: per-service cgroups replace the host for their service only; two services, one under pressure', async (t) => {
  const { root, config: base } = await fixture(t)
  const cgroups = await tempDir(t, 'hacheck-cgroups-')
  const web = join(cgroups, 'web.service')
  const api = join(cgroups, 'api.service')
  const config = makeConfig({ ...configValues(base), load_weight_sources: ['cpu', 'memory'], load_weight_cgroups: { web, api } })
  for (const dir of [web, api]) {
    await writePressure(dir, 'cpu.pressure', 0)
    await writePressure(dir, 'memory.pressure', 0)
  }
  await writePressure(root, 'cpu', 20)
  await writePressure(root, 'memory', 0)
  const load = sampler(config)
  load.sample()
  assert.deepEqual(['web', 'api', 'db', 'all'].map((s) => load.weight(s)), [100, 100, 80, 80])
  await writePressure(web, 'memory.pressure', 70)
  load.sample()
  assert.deepEqual(['web', 'api', 'db', 'all'].map((s) => load.weight(s)), [30, 100, 80, 80], 'only web drops')
  assert.deepEqual(load.scopes().map((s) => [s.service, s.kind, s.dir]), [['all', 'host', root], ['web', 'cgroup', web], ['api', 'cgroup', api]])
  assert.equal(load.scopeOf('web').inputs[1]?.path, join(web, 'memory.pressure'))
})

test('sampler: a missing, unreadable, malformed, huge or FIFO source is ignored for the weight and logged once, and once when usable again', async (t) => {
  const { root, config } = await fixture(t, { load_weight_sources: ['cpu', 'memory', 'io'] })
  const log = recordingLog()
  const load = sampler(config, { logger: log })
  await writePressure(root, 'cpu', 30)
  // memory: missing; io: each kind of broken file in turn.
  const broken: Array<[string, () => Promise<void>]> = [
    ['malformed', async () => { await writeFile(join(root, 'io'), 'some avg10=abc\n') }],
    ['huge', async () => { await writeFile(join(root, 'io'), 'x'.repeat(100_000)) }],
    ['a directory', async () => { await rm(join(root, 'io'), { force: true }); await mkdir(join(root, 'io')) }],
    ['a FIFO', async () => { await rm(join(root, 'io'), { recursive: true, force: true }); execFileSync('mkfifo', [join(root, 'io')]) }]
  ]
  for (const [what, make] of broken) {
    await make()
    for (let i = 0; i < 3; i++) load.sample()
    assert.equal(load.weight('web'), 70, `${what}: the weight comes from cpu alone`)
  }
  const warnings = log.lines.filter((l) => l.level === 'warn')
  // A directory and a FIFO are refused alike ("not a regular file"): one warning for both.
  assert.deepEqual(warnings.map((l) => l.obj.resource), ['memory', 'io', 'io', 'io'], 'one warning per source and reason, not one per read')
  assert.match(String(warnings[0]?.obj.reason), /memory does not exist$/)
  assert.deepEqual(warnings.slice(1).map((l) => String(l.obj.reason).replace(/^pressure file \S+ /, '')), [
    'is not in the PSI format (some avg10=... avg60=... avg300=... total=...)',
    'is larger than 4096 bytes',
    'is not a regular file'
  ])
  assert.equal(warnings[0]?.msg, 'pressure source unusable: ignored for the load weight')
  const io = load.scopeOf('web').inputs[2]
  assert.equal(io?.some, null)
  assert.match(io?.error ?? '', /is not a regular file/)

  await rm(join(root, 'io'))
  await writePressure(root, 'io', 50)
  load.sample()
  load.sample()
  assert.equal(load.weight('web'), 50)
  assert.deepEqual(log.lines.filter((l) => l.level === 'info').map((l) => l.obj.resource), ['io'], 'once when usable again')

  // Every source gone: no load weight at all (the agent then answers from the spool alone).
  await rm(root, { recursive: true })
  load.sample()
  assert.equal(load.weight('web'), null)
  assert.equal(load.scopeOf('web').pressure, null)
})

test('sampler: reads on its timer (first read at start), never on a weight lookup; stop() ends the reads', async (t) => {
  const { root, config } = await fixture(t, { load_weight_interval_seconds: 5 })
  await writePressure(root, 'cpu', 40)
  let reads = 0
  let clockMs = 1_700_000_000_000
  t.mock.timers.enable({ apis: ['setInterval'] })
  const load = sampler(config, { read: (path) => { reads++; return readPressureFile(path) }, nowMs: () => clockMs })
  load.start()
  assert.equal(reads, 1, 'one read at start')
  for (let i = 0; i < 1000; i++) load.weight('web')
  assert.equal(reads, 1, 'a thousand lookups read nothing')
  assert.equal(load.weight('web'), 60)
  t.mock.timers.tick(4999)
  assert.equal(reads, 1)
  await writePressure(root, 'cpu', 80)
  clockMs += 5000
  t.mock.timers.tick(1)
  assert.equal(reads, 2, 'one read per interval')
  assert.equal(load.weight('web'), 20)
  assert.equal(load.scopeOf('web').sampledAtMs, 1_700_000_005_000, 'stamped with the injected clock')
  load.start()
  t.mock.timers.tick(5000)
  assert.equal(reads, 3, 'start() twice does not start a second timer')
  load.stop()
  t.mock.timers.tick(50_000)
  assert.equal(reads, 3, 'no read after stop()')
  assert.equal(load.weight('web'), 20, 'the last weight stays readable')
})

test('sampler: a timer round reads SCOPES_PER_TURN scopes per turn of the event loop, and a round still running is not doubled', async (t) => {
  const { root, config: base } = await fixture(t)
  const cgroups = await tempDir(t, 'hacheck-cgroups-')
  const services = Array.from({ length: 10 }, (_, i) => `svc${i}`)
  for (const s of services) await writePressure(join(cgroups, s), 'cpu.pressure', 50)
  await writePressure(root, 'cpu', 0)
  const config = makeConfig({ ...configValues(base), load_weight_cgroups: Object.fromEntries(services.map((s) => [s, join(cgroups, s)])) })
  let reads = 0
  t.mock.timers.enable({ apis: ['setInterval'] })
  const load = sampler(config, { read: (path) => { reads++; return readPressureFile(path) } })
  load.start()
  assert.equal(reads, 11, 'start reads every scope at once')
  t.mock.timers.tick(config.loadWeight?.intervalMs ?? 0)
  assert.equal(reads, 11 + SCOPES_PER_TURN, 'the first slice, then the event loop gets a turn')
  t.mock.timers.tick(config.loadWeight?.intervalMs ?? 0)
  assert.equal(reads, 11 + SCOPES_PER_TURN, 'a tick during a round is skipped')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(reads, 11 + 2 * SCOPES_PER_TURN)
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(reads, 22, 'the round ends after every scope')
  assert.deepEqual(services.map((s) => load.weight(s)), services.map(() => 50))
  load.stop()
})
