/**
 * Fleet status and budgets without etcd: the record reader against hostile values, the answer
 * book's effective states and its bound, budget parsing and the counting rule.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AnswerBook } from '../../src/fleet/answer-book.js'
import { allowedOut, availability, parseBudgetText, parseBudgetValue } from '../../src/fleet/budget.js'
import { parseStatusKey, parseStatusRecord, statusKey, statusReason, MAX_STATUS_REASON_LENGTH } from '../../src/fleet/status.js'
import { summarise, summaryLine } from '../../src/fleet/status-view.js'
import type { FleetKv } from '../../src/fleet/view.js'
import type { SpoolState } from '../../src/spool/format.js'

const NOW = 1_800_000_000
const bytes = (v: unknown): Uint8Array => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v))
const record = (fields: Record<string, unknown>): Record<string, unknown> => ({ state: 'up', code: 200, check_status: 'L7OK', reason: '', since: NOW, weight: null, confirmed: NOW, ...fields })

test('status records: keys, and hostile values read as invalid with the reason, never a throw', () => {
  assert.equal(statusKey('/hacheck/', 'web', 'h1'), '/hacheck/status/web/h1')
  assert.deepEqual(parseStatusKey('/hacheck/', '/hacheck/status/web/h1'), { service: 'web', host: 'h1' })
  for (const bad of ['/hacheck/status/web', '/hacheck/status/web/h1/x', '/hacheck/status/we b/h1', '/hacheck/status/all/h1', '/hacheck/status/web/../x', '/other/status/web/h1']) {
    assert.equal(parseStatusKey('/hacheck/', bad), null, bad)
  }
  assert.equal(parseStatusRecord('web', 'h1', bytes(record({ state: 'drain', code: 404 })), 7).state, 'drain')
  const cases: Array<[unknown, RegExp]> = [
    ['not json', /not JSON/],
    [[1, 2], /not a JSON object/],
    ['null', /not a JSON object/],
    [record({ state: 'sideways' }), /state is not one of/],
    [record({ code: 'two hundred' }), /code is not an HTTP code/],
    [record({ code: 1e9 }), /code is not an HTTP code/],
    [record({ since: 'yesterday' }), /unix seconds/]
  ]
  for (const [value, why] of cases) {
    const r = parseStatusRecord('web', 'h1', bytes(value), 1)
    assert.equal(r.state, 'invalid', JSON.stringify(value))
    assert.match(r.reason, why)
  }
  const huge = parseStatusRecord('web', 'h1', new Uint8Array(0), 1, 5_000_000)
  assert.equal(huge.state, 'invalid')
  assert.match(huge.reason, /5000000 bytes is over/)
  const long = parseStatusRecord('web', 'h1', bytes(record({ state: 'down', reason: `a\nb${'x'.repeat(5000)}` })), 1)
  assert.ok(long.reason.length <= MAX_STATUS_REASON_LENGTH + 10, 'cut')
  assert.ok(!long.reason.includes('\n'), 'cleaned: one line')
  const escaped = statusReason('\u0007\u{1F600}'.repeat(400))
  assert.ok(Buffer.byteLength(escaped) <= 1024, `escapes cannot make a record large: ${Buffer.byteLength(escaped)} bytes`)
})

test('answer book: spool state beats the last answer, 2xx is up, anything else failing; bounded', () => {
  let now = NOW
  const book = new AnswerBook({ nowSeconds: () => now, maxServices: 3 })
  const spool = new Map<string, SpoolState>()
  const lookup = { isUp: (s: string): SpoolState => spool.get(s) ?? { up: true } }
  book.note('web', { code: 200, message: 'OK', checkStatus: 'L7OK', durationMs: 1 })
  book.note('api', { code: 503, message: 'no connect', checkStatus: 'L4CON', durationMs: 1 })
  let recs = book.records(lookup, () => null)
  assert.equal(recs.get('web')?.state, 'up')
  assert.equal(recs.get('api')?.state, 'failing')
  assert.equal(recs.get('api')?.reason, 'no connect')
  now += 10
  spool.set('web', { up: false, entry: { key: { service: 'web' }, file: 'web', reason: 'disk', expiration: null, creation: 1, state: 'down' } })
  recs = book.records(lookup, () => 50)
  assert.equal(recs.get('web')?.state, 'down')
  assert.equal(recs.get('web')?.reason, 'disk')
  assert.equal(recs.get('web')?.since, now, 'a new state starts now')
  assert.equal(recs.get('web')?.weight, 50)
  now += 10
  assert.equal(book.records(lookup, () => 50).get('web')?.since, now - 10, 'an unchanged state keeps its since')
  book.noteSpooled(['db'])
  for (const s of ['a', 'b', 'c', 'd']) book.note(s, { code: 200, message: 'OK', checkStatus: 'L7OK', durationMs: 1 })
  assert.ok(book.services().length <= 3, 'at most maxServices')
})

test('budgets: parsing (hostile values fail closed), percentages round down, the counting rule', () => {
  assert.deepEqual(parseBudgetText('1'), { count: 1 })
  assert.deepEqual(parseBudgetText('25%'), { percent: 25 })
  for (const bad of ['-1', '1.5', '101%', 'x', '', '99999999']) assert.equal(parseBudgetText(bad), null, bad)
  assert.deepEqual(parseBudgetValue(bytes({ max_unavailable: 2 })), { budget: { count: 2 }, problem: null })
  assert.deepEqual(parseBudgetValue(bytes({ max_unavailable: '10%' })).budget, { percent: 10 })
  for (const bad of ['nope', { max_unavailable: -3 }, { max_unavailable: '1000%' }, {}]) {
    const read = parseBudgetValue(bytes(bad))
    assert.deepEqual(read.budget, { count: 0 }, 'fail closed')
    assert.notEqual(read.problem, null)
  }
  assert.deepEqual(parseBudgetValue(new Uint8Array(0), 1e6).budget, { count: 0 })
  assert.equal(allowedOut({ percent: 50 }, 3), 1)
  assert.equal(allowedOut({ percent: 10 }, 9), 0)
  assert.equal(allowedOut({ count: 2 }, 100), 2)

  const kv = (key: string, value: unknown): FleetKv => ({ key, value: bytes(value), modRevision: 1 })
  const read = {
    status: [
      kv('/p/status/web/h1', record({})),
      kv('/p/status/web/h2', record({ state: 'drain', reason: 'deploy' })),
      kv('/p/status/web/h3', 'garbage'),
      kv('/p/status/api/h4', record({ state: 'down' }))
    ],
    hostEntries: [
      kv('/p/hosts/h5/spool/web:8080', { reason: 'x', expiration: null, creation: 1, state: 'down' }),
      kv('/p/hosts/h6/spool/all', { reason: 'x', expiration: NOW - 1, creation: 1, state: 'down' })
    ],
    fleetEntries: []
  }
  const { hosts, out } = availability('/p/', 'web', read, NOW)
  assert.deepEqual([...hosts].sort(), ['h1', 'h2', 'h3', 'h5', 'h6'])
  assert.deepEqual([...out.keys()].sort(), ['h2', 'h3', 'h5'], 'drain, an invalid record and an entry count; an expired entry does not')
  const wide = availability('/p/', 'web', { ...read, fleetEntries: [kv('/p/spool/all', { reason: 'x', expiration: null, creation: 1 })] }, NOW)
  assert.equal(wide.out.size, wide.hosts.size, 'a fleet-wide all takes every host out')

  const summary = summarise(read.status.map((k) => { const [,,, service, host] = k.key.split('/'); return parseStatusRecord(service as string, host as string, k.value, 1) }))
  assert.deepEqual(summary.map(summaryLine), ['api: 1 host, 0 up, 1 down', 'web: 3 hosts, 1 up, 1 drain, 1 invalid'])
})
