/**
 * Log lines that clients can cause are rate-limited (issue 10, item 7): per key and per
 * category, with `<n> similar lines suppressed` summaries, so no flood of requests fills a disk.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import pino from 'pino'
import { LogLimiter, STATE_CHANGE_BUDGET } from '../../src/ops/log-limit.js'
import { buildTestApp } from '../helper.js'

function collector (): { lines: Array<Record<string, unknown>>, warn: (obj: object, msg: string) => void } {
  const lines: Array<Record<string, unknown>> = []
  return { lines, warn: (obj, msg) => { lines.push({ ...obj, msg }) } }
}

test('a key may write its burst, then perMinute lines a minute', () => {
  let now = 1_000_000
  const limiter = new LogLimiter({ nowMs: () => now })
  const allowed = Array.from({ length: 20 }, () => limiter.allow('check-guard', '10.0.0.1')).filter(Boolean).length
  assert.equal(allowed, 5)
  now += 9_000
  assert.equal(limiter.allow('check-guard', '10.0.0.1'), false)
  now += 1_000 // 6 a minute: one token every 10 s
  assert.equal(limiter.allow('check-guard', '10.0.0.1'), true)
  assert.equal(limiter.allow('check-guard', '10.0.0.2'), true, 'another key has its own budget')
  assert.deepEqual(limiter.pending(), { 'check-guard': 16 })
})

test('a category caps all its keys together: invented keys do not multiply the budget', () => {
  const limiter = new LogLimiter({ nowMs: () => 0, categories: { 'state-change': STATE_CHANGE_BUDGET } })
  let guard = 0
  let changes = 0
  for (let i = 0; i < 2000; i++) {
    if (limiter.allow('check-guard', `10.0.${i >> 8}.${i & 255}`)) guard++
    if (limiter.allow('state-change', `svc${i}`)) changes++
  }
  assert.equal(guard, 100)
  assert.equal(changes, 500)
})

test('suppressed lines are summarised once per interval, and on close', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const out = collector()
  const limiter = new LogLimiter({ logger: out, summaryIntervalMs: 30 })
  for (let i = 0; i < 12; i++) limiter.allow('remote-spool-refused', '10.0.0.9')
  t.mock.timers.tick(29)
  assert.equal(out.lines.length, 0, 'nothing before the interval')
  t.mock.timers.tick(1)
  assert.deepEqual(out.lines, [{
    category: 'remote-spool-refused',
    suppressed: 7,
    example_key: '10.0.0.9',
    msg: '7 similar lines suppressed (remote-spool-refused; log rate limit, e.g. 10.0.0.9)'
  }])
  limiter.allow('remote-spool-refused', '10.0.0.9')
  limiter.close()
  assert.equal(out.lines.length, 2)
  assert.equal(out.lines[1]?.suppressed, 1)
  assert.deepEqual(limiter.pending(), {})
})

test('floods of refused targets, invented failing services and unauthenticated spool changes write a bounded log', async (t) => {
  let text = ''
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { text += chunk.toString(); done() } })
  const logger = pino({ level: 'warn' }, sink)
  // A frozen clock: the budgets do not refill while the test runs, so the counts are exact.
  const logLimiter = new LogLimiter({ logger, categories: { 'state-change': STATE_CHANGE_BUDGET }, nowMs: () => 0 })
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_token: 'a-token-of-16-chars!' }, {
    logger, opsLogger: logger.child({}, { level: 'info' }), logLimiter
  })
  await spool.down({ service: 'all' }, { reason: 'host maintenance' })
  for (let i = 0; i < 2000; i++) {
    await app.inject({ url: '/tcp/web/80/', headers: { 'x-nerve-check-ip': '169.254.169.254' } })
  }
  for (let i = 0; i < 1000; i++) await app.inject(`/spool/svc${i}/0/`) // each a new target that fails
  for (let i = 0; i < 600; i++) {
    await app.inject({ method: 'POST', url: '/spool/web/0/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'status=up' })
  }
  logLimiter.close()
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string, suppressed?: number })
  const guard = lines.filter((l) => l.msg.startsWith('check target 169.254.169.254 is not allowed')).length
  const changes = lines.filter((l) => l.msg.startsWith('Health check for spool/')).length
  const refused = lines.filter((l) => l.msg === 'remote spool change refused: missing or wrong token').length
  const summaries = lines.filter((l) => /^[0-9]+ similar lines suppressed/.test(l.msg))
  t.diagnostic(`3,600 requests wrote ${lines.length} lines, ${text.length} bytes: ${guard} guard, ${changes} state changes, ${refused} refusals, ${summaries.length} summaries`)
  assert.equal(guard, 5)
  assert.equal(changes, 500)
  assert.equal(refused, 5)
  assert.ok(summaries.length >= 3 && summaries.length <= 4, summaries.map((s) => s.msg).join('; '))
  assert.equal(summaries.reduce((n, s) => n + (s.suppressed ?? 0), 0) + lines.length - summaries.length, 2000 + 1000 + 600,
    'every line is either written or counted in a summary')
})
