import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import pino from 'pino'
import { bearerTokenCheck } from '../../../src/http/routes/remote-spool.js'
import { collectFields, parseSpoolChange } from '../../../src/spool/change.js'
import { buildTestApp } from '../../helper.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const TOKEN = 'correct-horse-battery-staple'

test('disabled by default: 403 with the reference message, nothing written', async (t) => {
  const { app, spool } = await buildTestApp(t)
  const res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: FORM, payload: 'status=down&reason=x' })
  assert.deepEqual([res.statusCode, res.body], [403, 'remote spool changes are not enabled'])
  assert.deepEqual(await readdir(spool.root), [])
})

test('down then up through the body or the query string, visible to the next GET', async (t) => {
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true })
  let res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: FORM, payload: 'status=down&reason=deploy%20123&creation=1700000000.5&expiration=4000000000' })
  assert.deepEqual([res.statusCode, res.body], [200, ''])
  assert.deepEqual(JSON.parse(await readFile(join(spool.root, 'web'), 'utf8')), { reason: 'deploy 123', expiration: 4000000000, creation: 1700000000.5 })
  res = await app.inject('/spool/web/0/')
  assert.deepEqual([res.statusCode, res.body], [503, 'Service web in down state since 1700000000.500000 until 4000000000.000000: deploy 123'])

  res = await app.inject({ method: 'POST', url: '/spool/web/0?status=up' })
  assert.deepEqual([res.statusCode, res.body], [200, ''])
  assert.equal((await app.inject('/spool/web/0/')).statusCode, 200)
  assert.deepEqual(await readdir(spool.root), [])
})

test('a port other than 0 changes only that port; creation defaults to now', async (t) => {
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true })
  const before = Date.now() / 1000
  const res = await app.inject({ method: 'POST', url: '/spool/web/8080/anything', headers: FORM, payload: 'status=down&reason=one+port' })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(await readdir(spool.root), ['web:8080'])
  const written = JSON.parse(await readFile(join(spool.root, 'web:8080'), 'utf8'))
  assert.ok(written.creation >= before - 1)
  assert.equal((await app.inject('/spool/web/8080/')).statusCode, 503)
  assert.equal((await app.inject('/spool/web/8081/')).statusCode, 200)
})

test('bad fields are 400s naming the field; nothing is written', async (t) => {
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true })
  const cases: Array<[string, RegExp]> = [
    ['', /^status must be up or down$/],
    ['status=sideways', /^status must be up or down$/],
    ['status=down', /^field reason is required for status=down$/],
    ['status=down&reason=', /^field reason is required/],
    ['status=down&reason=x&expiration=tomorrow', /^field expiration must be a unix time in seconds, got "tomorrow"$/],
    ['status=down&reason=x&creation=-5', /^field creation must be a unix time/],
    ['status=down&reason=x&creation=1e9', /^field creation must be a unix time/],
    ['status=up&expiration=soon', /^field expiration must be/],
    ['status=down&status=up&reason=x', /^field status is given more than once$/],
    ['status=down&reason=a%09b', /^field reason must not contain control characters \(U\+0009 at position 1\)$/],
    ['status=down&reason=a%0Ab', /^field reason must not contain control characters \(U\+000A at position 1\)$/],
    [`status=down&reason=${'r'.repeat(1025)}`, /^field reason is longer than 1024 characters$/],
    // C1 controls, line and paragraph separators, bidi overrides and zero-width characters print
    // raw in hastatus/hashowdowned: refused like the C0 ones.
    ['status=down&reason=a%C2%85b', /^field reason must not contain control characters \(U\+0085 at position 1\)$/],
    ['status=down&reason=a%E2%80%A8b', /^field reason must not contain control characters \(U\+2028 at position 1\)$/],
    ['status=down&reason=a%E2%80%A9b', /^field reason must not contain control characters \(U\+2029 at position 1\)$/],
    ['status=down&reason=deploy%E2%80%AEnwod', /^field reason must not contain control characters \(U\+202E at position 6\)$/],
    ['status=down&reason=x%E2%81%A6y', /^field reason must not contain control characters \(U\+2066 at position 1\)$/],
    ['status=down&reason=x%E2%80%8By', /^field reason must not contain control characters \(U\+200B at position 1\)$/]
  ]
  for (const [payload, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: FORM, payload })
    assert.equal(res.statusCode, 400, payload)
    assert.match(res.body, message, payload)
  }
  const dup = await app.inject({ method: 'POST', url: '/spool/web/0/?status=up', headers: FORM, payload: 'status=up' })
  assert.deepEqual([dup.statusCode, dup.body], [400, 'field status is given more than once'])
  assert.equal((await app.inject({ method: 'POST', url: '/spool/web/70000/?status=up' })).statusCode, 400)
  for (const url of ['/spool/../0/?status=up', '/spool/web/x/?status=up', '/spool/a%2Fb/0/?status=up']) {
    assert.equal((await app.inject({ method: 'POST', url })).statusCode, 404, url)
  }
  assert.deepEqual(await readdir(spool.root), [])
})

test('only urlencoded forms, at most 4 KiB: JSON is a 415, a bigger body a 413', async (t) => {
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true })
  let res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: { 'content-type': 'application/json' }, payload: '{"status":"down","reason":"x"}' })
  assert.equal(res.statusCode, 415)
  res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: FORM, payload: `status=down&reason=x&pad=${'p'.repeat(5000)}` })
  assert.equal(res.statusCode, 413)
  assert.deepEqual(await readdir(spool.root), [])
})

test('token: missing or wrong is 401 with WWW-Authenticate; right is 200', async (t) => {
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_token: TOKEN })
  const post = async (authorization?: string): Promise<{ statusCode: number, body: string, headers: Record<string, unknown> }> =>
    await app.inject({ method: 'POST', url: '/spool/web/0/', headers: { ...FORM, ...(authorization === undefined ? {} : { authorization }) }, payload: 'status=down&reason=x' })
  for (const auth of [undefined, '', 'Bearer', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`]) {
    const res = await post(auth)
    assert.equal(res.statusCode, 401, String(auth))
    assert.equal(res.body, 'a valid Authorization: Bearer token is required')
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="hacheck"')
  }
  assert.deepEqual(await readdir(spool.root), [])
  assert.equal((await post(`Bearer ${TOKEN}`)).statusCode, 200)
  assert.equal((await post(`bearer   ${TOKEN}`)).statusCode, 200, 'the scheme is case-insensitive')
  assert.deepEqual(await readdir(spool.root), ['web'])
})

test('client networks: outside is 403, inside is 200 and the file exists', async (t) => {
  const outside = await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_allowed_cidrs: ['10.0.0.0/8'] })
  // inject() comes from 127.0.0.1 unless told otherwise.
  let res = await outside.app.inject({ method: 'POST', url: '/spool/web/0/', headers: FORM, payload: 'status=down&reason=x' })
  assert.deepEqual([res.statusCode, res.body], [403, 'client 127.0.0.1 may not change the spool'])
  assert.deepEqual(await readdir(outside.spool.root), [])

  const inside = await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_allowed_cidrs: ['127.0.0.1/32'], remote_spool_token: TOKEN })
  res = await inside.app.inject({ method: 'POST', url: '/spool/web/0/', headers: { ...FORM, authorization: `Bearer ${TOKEN}` }, payload: 'status=down&reason=x' })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(await readdir(inside.spool.root), ['web'])
  // The network is checked before the token: a wrong network never learns whether its token was right.
  res = await outside.app.inject({ method: 'POST', url: '/spool/web/0/', headers: { ...FORM, authorization: 'Bearer nope' }, payload: '' })
  assert.equal(res.statusCode, 403)
})

test('a real listener: a remote change over HTTP from loopback', async (t) => {
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_allowed_cidrs: ['127.0.0.0/8', '::1/128'] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const res = await fetch(`http://127.0.0.1:${port}/spool/api/0/`, { method: 'POST', body: new URLSearchParams({ status: 'down', reason: 'via fetch' }) })
  assert.equal(res.status, 200)
  assert.equal((await fetch(`http://127.0.0.1:${port}/spool/api/0/`)).status, 503)
  assert.deepEqual(await readdir(spool.root), ['api'])
})

test('collectFields and parseSpoolChange', () => {
  assert.deepEqual(collectFields({ status: 'down' }, { reason: 'r', other: 'ignored' }), { status: 'down', reason: 'r' })
  assert.deepEqual(collectFields(undefined, null, { status: ['up'] }), { status: 'up' })
  assert.throws(() => collectFields({ reason: 'a' }, { reason: 'b' }), /field reason is given more than once/)
  assert.deepEqual(parseSpoolChange({ status: 'up', reason: 'ignored' }), { status: 'up' })
  const text = 'déploiement 42 — 日本 \u{1F680}'
  assert.deepEqual(parseSpoolChange({ status: 'down', reason: text }), { status: 'down', reason: text, expiration: null, creation: null, state: 'down' }, 'printable text in any script is fine')
  assert.throws(() => parseSpoolChange({ status: 'down', reason: 'a\ud800b' }), /U\+D800 at position 1/, 'a lone surrogate is refused')
  assert.deepEqual(parseSpoolChange({ status: 'down', reason: 'r', expiration: '12.5' }), { status: 'down', reason: 'r', expiration: 12.5, creation: null, state: 'down' })
  assert.deepEqual(parseSpoolChange({ status: 'down', reason: 'r', state: 'maint' }), { status: 'down', reason: 'r', expiration: null, creation: null, state: 'maint' })
  assert.throws(() => parseSpoolChange({ status: 'down', reason: 'r', state: 'sideways' }), /^.*field state must be down, drain or maint$/)
  assert.throws(() => parseSpoolChange({ status: 'up', state: 'drain' }), /field state is only for status=down/)
})

test('(ours) state=drain or maint writes that spool state; the check answers it', async (t) => {
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true })
  let res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: FORM, payload: 'status=down&reason=rolling&state=drain' })
  assert.deepEqual([res.statusCode, res.body], [200, ''])
  assert.equal(JSON.parse(await readFile(join(spool.root, 'web'), 'utf8')).state, 'drain')
  res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: FORM, payload: 'status=down&reason=disk&state=maint' })
  assert.equal(res.statusCode, 200)
  res = await app.inject('/spool/web/0/')
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^Service web in maint state since [0-9.]+: disk$/)
  res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: FORM, payload: 'status=down&reason=x&state=gone' })
  assert.deepEqual([res.statusCode, res.body], [400, 'field state must be down, drain or maint'])
})

test('bearerTokenCheck compares whole tokens', () => {
  const check = bearerTokenCheck(TOKEN)
  assert.equal(check(`Bearer ${TOKEN}`), true)
  assert.equal(check(undefined), false)
  assert.equal(check(`Bearer ${TOKEN}${TOKEN}`), false)
})

test('every change is logged with the client address even when the logger is at warn; refusals too', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  const { app } = await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_token: TOKEN }, { logger })
  await app.inject({ method: 'POST', url: '/spool/web/81/', headers: { ...FORM, authorization: `Bearer ${TOKEN}` }, payload: 'status=down&reason=audit+me' })
  await app.inject({ method: 'POST', url: '/spool/web/81/', headers: FORM, payload: 'status=up' })
  const change = lines.find((l) => l.msg === 'remote spool change')
  assert.ok(change, JSON.stringify(lines))
  assert.deepEqual([change.level, change.client, change.service, change.port, change.status, change.reason], [30, '127.0.0.1', 'web', 81, 'down', 'audit me'])
  const refusal = lines.find((l) => typeof l.msg === 'string' && l.msg.includes('missing or wrong token'))
  assert.equal(refusal?.client, '127.0.0.1')
})

test('a browser\'s cross-site request is refused whatever the config; tools and same-origin pages pass', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_allowed_cidrs: ['127.0.0.0/8'] }, { logger })
  const warning = lines.find((l) => /allow_remote_spool_changes is on without remote_spool_token/.test(String(l.msg)))
  assert.ok(warning, 'a start-up warning names the risk')
  assert.match(String(warning.msg), /can take services down/)
  const post = async (headers: Record<string, string>): Promise<[number, string]> => {
    const res = await app.inject({ method: 'POST', url: '/spool/web/0/', headers: { ...FORM, host: 'hacheck.internal:3333', ...headers }, payload: 'status=down&reason=csrf' })
    return [res.statusCode, res.body]
  }
  const crossSite: Array<Record<string, string>> = [
    { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
    { origin: 'http://evil.example' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site', origin: 'http://other.internal:3333' },
    { origin: 'null' },
    { origin: 'http://hacheck.internal:3334' }
  ]
  for (const headers of crossSite) {
    const [status, body] = await post(headers)
    assert.equal(status, 403, JSON.stringify(headers))
    assert.match(body, /^remote spool changes are refused from browsers on other sites: /)
    assert.deepEqual(await readdir(spool.root), [], JSON.stringify(headers))
  }
  assert.ok(lines.some((l) => /cross-site browser request/.test(String(l.msg))))
  assert.deepEqual(await post({ origin: 'http://hacheck.internal:3333', 'sec-fetch-site': 'same-origin' }), [200, ''])
  assert.deepEqual(await post({}), [200, ''], 'a tool (no Origin, no Sec-Fetch-Site) passes')
})

test('with a token there is no start-up warning', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_token: TOKEN }, { logger })
  assert.equal(lines.filter((l) => /without remote_spool_token/.test(String(l.msg))).length, 0)
})
