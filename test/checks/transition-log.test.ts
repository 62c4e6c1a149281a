import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import pino from 'pino'
import { HealthService } from '../../src/checks/health.js'
import { RECENT_TRANSITIONS, TransitionLog, type Transition } from '../../src/checks/transition-log.js'
import { makeConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/ops/logger.js'
import { buildTestApp, tempSpool } from '../helper.js'
import { httpUpstream } from '../upstreams.js'

function collector (): { lines: Array<{ obj: Transition, msg: string }>, logger: { info: (obj: object, msg: string) => void } } {
  const lines: Array<{ obj: Transition, msg: string }> = []
  return { lines, logger: { info: (obj, msg) => { lines.push({ obj: obj as Transition, msg }) } } }
}

test('transition log: one line per flip between passing and failing, none for repeats', async (t) => {
  const up = await httpUpstream(t)
  const { lines, logger } = collector()
  const health = new HealthService({ config: makeConfig({ cache_time: 0 }), spool: await tempSpool(t), transitions: new TransitionLog({ logger }) })
  const check = async (query: string): Promise<unknown> => await health.check({
    protocol: 'http',
    target: { service: 'web', host: '127.0.0.1', address: '127.0.0.1', port: up.port, query, queryString: '', headers: {} },
    noCache: false
  })
  for (let i = 0; i < 3; i++) await check('health')
  assert.equal(lines.length, 0, 'a target seen passing for the first time is not news')
  for (let i = 0; i < 3; i++) await check('503')
  assert.equal(lines.length, 1)
  assert.deepEqual({ ...lines[0]?.obj, duration_ms: 0 }, {
    protocol: 'http', service: 'web', target: `127.0.0.1:${up.port}`, result: 'failing', from: 'L7OK', to: 'L7STS', code: 503, duration_ms: 0, message: 'overloaded'
  })
  assert.match(lines[0]?.msg ?? '', new RegExp(`^Health check for http/web at 127\\.0\\.0\\.1:${up.port} failed, status: L7OK -> L7STS, code: 503, check duration: [0-9.]+ms, info: "overloaded"$`))
  for (let i = 0; i < 3; i++) await check('health')
  assert.equal(lines.length, 2)
  assert.deepEqual([lines[1]?.obj.result, lines[1]?.obj.from, lines[1]?.obj.to, lines[1]?.obj.code], ['passing', 'L7STS', 'L7OK', 200])
  assert.match(lines[1]?.msg ?? '', / succeeded, status: L7STS -> L7OK, code: 200, /)
})

test('transition log: spool gates flip too; drain (L7OKC) counts as passing; targets are separate', async (t) => {
  const spool = await tempSpool(t)
  const { lines, logger } = collector()
  const health = new HealthService({ config: makeConfig(), spool, transitions: new TransitionLog({ logger }) })
  const check = async (service: string): Promise<unknown> => await health.check({
    protocol: 'spool',
    target: { service, host: '127.0.0.1', address: '127.0.0.1', port: 0, query: '', queryString: '', headers: {} },
    noCache: false
  })
  await check('web')
  await spool.down({ service: 'web' }, { reason: 'deploy', state: 'drain' })
  await check('web')
  assert.equal(lines.length, 0, 'drain is a conditional pass')
  await spool.down({ service: 'web' }, { reason: 'broken\nreally' })
  await check('web')
  await check('api')
  assert.equal(lines.length, 1)
  assert.deepEqual([lines[0]?.obj.service, lines[0]?.obj.from, lines[0]?.obj.to], ['web', 'L7OKC', 'L7STS'])
  assert.match(lines[0]?.obj.message ?? '', /^Service web in down state since [0-9.]+: broken\\u\{000A\}really$/, 'one line, control characters escaped as every output shows them')
  await check('web')
  assert.equal(lines.length, 1)
})

test('transition log: a first failure is logged with no previous status; the map is bounded', () => {
  const { lines, logger } = collector()
  const log = new TransitionLog({ logger, maxTargets: 2 })
  const fail = { code: 503, message: 'x'.repeat(500), checkStatus: 'L4CON' as const, durationMs: 1.234 }
  const ok = { code: 200, message: '', checkStatus: 'L4OK' as const, durationMs: 1 }
  const flip = log.observe('tcp', { service: 'db', host: '::1', port: 5432 }, fail)
  assert.deepEqual([flip?.from, flip?.to, flip?.target, flip?.duration_ms, flip?.message.length], [null, 'L4CON', '[::1]:5432', 1.2, 203])
  assert.match(lines[0]?.msg ?? '', /status: - -> L4CON/)
  log.observe('tcp', { service: 'a', host: '127.0.0.1', port: 1 }, ok)
  log.observe('tcp', { service: 'b', host: '127.0.0.1', port: 1 }, ok)
  assert.equal(log.size, 2)
  assert.notEqual(log.observe('tcp', { service: 'db', host: '::1', port: 5432 }, fail), null, 'a forgotten target logs its failure again')
})

test('state changes reach the ops logger, written at the default (warn) level', async (t) => {
  const lines: string[] = []
  const hlog = createLogger({ logPath: 'stderr', verbose: false })
  // The same two-level setup as the server: main logger at warn, ops child at info.
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const logger = pino({ level: hlog.logger.level }, sink)
  const ops = logger.child({}, { level: hlog.ops.level })
  hlog.close()
  const { app, spool } = await buildTestApp(t, {}, { logger, opsLogger: ops })
  assert.equal((await app.inject('/spool/web/0/')).statusCode, 200)
  await spool.down({ service: 'web' }, { reason: 'maintenance' })
  assert.equal((await app.inject('/spool/web/0/')).statusCode, 503)
  const flips = lines.map((l) => JSON.parse(l) as { level: number, to?: string }).filter((r) => r.to !== undefined)
  assert.equal(flips.length, 1)
  assert.deepEqual([flips[0]?.level, flips[0]?.to], [30, 'L7STS'])
})

test('transition log: the last 100 flips are kept in memory, newest first, with their time', () => {
  let now = 1000
  const log = new TransitionLog({ nowSeconds: () => now })
  assert.deepEqual(log.recent(), [])
  const target = { service: 'web', host: '127.0.0.1', port: 80 }
  const pass = { code: 200, message: 'ok', checkStatus: 'L7OK' as const, durationMs: 1 }
  const fail = { code: 503, message: 'no', checkStatus: 'L7STS' as const, durationMs: 2 }
  for (let i = 0; i < 150; i++) {
    now = 1000 + i
    log.observe('http', target, i % 2 === 0 ? fail : pass)
  }
  const recent = log.recent()
  assert.equal(recent.length, RECENT_TRANSITIONS)
  assert.deepEqual(recent.map((r) => r.ts).slice(0, 3), [1149, 1148, 1147])
  assert.equal(recent.at(-1)?.ts, 1050)
  assert.deepEqual([recent[0]?.result, recent[0]?.from, recent[0]?.to, recent[0]?.message], ['passing', 'L7STS', 'L7OK', 'ok'])
  recent[0]!.message = 'changed by a reader'
  assert.equal(log.recent()[0]?.message, 'ok', 'readers get copies')
})
