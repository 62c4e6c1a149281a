import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkers } from '../../src/checkers/index.js'
import { parseAgentCheck } from '../../src/config/agent.js'
import { MAX_REASON, formatAgentReply, parseAgentReply, parseAgentRequest, sanitiseReason } from '../../src/agent/reply.js'
import { hasCode } from '../../src/errors.js'

test('reply: admin word, health word, weight, #reason, one line', () => {
  assert.equal(formatAgentReply({ admin: 'ready', health: 'up' }), 'ready up\n')
  assert.equal(formatAgentReply({ admin: 'ready', health: 'up', weight: 50 }), 'ready up 50%\n')
  assert.equal(formatAgentReply({ admin: 'drain', health: 'up', reason: 'deploy' }), 'drain up #deploy\n')
  assert.equal(formatAgentReply({ admin: 'maint', reason: 'kernel' }), 'maint #kernel\n')
  assert.equal(formatAgentReply({ admin: 'ready', health: 'down', weight: 0, reason: 'x' }), 'ready down 0% #x\n')
  assert.equal(formatAgentReply({ health: 'down', reason: '' }), 'down\n', 'an empty reason adds no #')
  assert.throws(() => formatAgentReply({ weight: 257 }), RangeError)
  assert.throws(() => formatAgentReply({ weight: 1.5 }), RangeError)
})

test('reply: reasons lose control characters and are bounded, so a reply is always one line', () => {
  assert.equal(sanitiseReason('line one\r\nline two\ttabbed\u0000nul\u2028sep'), 'line one line two tabbed nul sep')
  const long = sanitiseReason('x'.repeat(5000))
  assert.equal(long.length, MAX_REASON)
  assert.ok(long.endsWith('...'))
  const line = formatAgentReply({ admin: 'ready', health: 'down', reason: 'evil\nready up 100%\n' })
  assert.equal(line, 'ready down #evil ready up 100%\n')
  assert.equal(line.indexOf('\n'), line.length - 1)
})

test('grammar: what HAProxy makes of our replies and of the manual\'s examples', () => {
  assert.deepEqual(parseAgentReply('ready up 50%\n'), { unknown: [], admin: 'ready', health: 'up', weight: 50 })
  assert.deepEqual(parseAgentReply('maint #Service web in maint state: kernel\n'), { unknown: [], admin: 'maint', reason: 'Service web in maint state: kernel' })
  assert.deepEqual(parseAgentReply('drain,down\t75% #  why, exactly # not a word\r\nignored'), {
    unknown: [], admin: 'drain', health: 'down', weight: 75, reason: 'why, exactly # not a word'
  })
  assert.deepEqual(parseAgentReply('UP READY maxconn:30 frobnicate up down\n'), { unknown: ['frobnicate'], admin: 'ready', health: 'down', maxconn: 30 }, 'case-insensitive; last word of a category wins')
  assert.equal(parseAgentReply('ready up'), null, 'no line end: HAProxy ignores an incomplete line')
  for (const word of ['fail', 'stopped']) assert.equal(parseAgentReply(`${word}\n`)?.health, word)
  for (const reply of [{ admin: 'ready', health: 'up', weight: 256 }, { admin: 'drain', health: 'down', reason: 'r' }, { admin: 'maint', health: 'stopped', reason: 'm' }] as const) {
    const parsed = parseAgentReply(formatAgentReply(reply))
    assert.deepEqual({ ...parsed, unknown: undefined }, { ...reply, unknown: undefined }, 'our replies parse back unchanged')
  }
})

test('request: <service>, <service>:<port>, empty for the host; anything else is refused', () => {
  assert.deepEqual(parseAgentRequest('web'), { service: 'web' })
  assert.deepEqual(parseAgentRequest('web:8080\r'), { service: 'web', port: 8080 })
  assert.deepEqual(parseAgentRequest('  web:0 '), { service: 'web' })
  assert.deepEqual(parseAgentRequest(''), { service: 'all' })
  assert.deepEqual(parseAgentRequest('\r'), { service: 'all' })
  // The longest valid name (249 characters, as on HTTP) with the longest port.
  assert.deepEqual(parseAgentRequest(`${'w'.repeat(249)}:65535`), { service: 'w'.repeat(249), port: 65535 })
  assert.deepEqual(parseAgentRequest(`${'w'.repeat(249)}\r`), { service: 'w'.repeat(249) })
  for (const bad of ['..', '.', '../etc/passwd', 'web:', 'web:x', 'web:70000', 'a b', 'web:80:90', '\u0000\u00ff', 'w'.repeat(250), `${'w'.repeat(250)}:1`, 'web:host:80']) {
    assert.equal(parseAgentRequest(bad), null, JSON.stringify(bad))
  }
})

test('agent_checks: <protocol>/<port>/<query>', () => {
  assert.deepEqual(parseAgentCheck('web', 'http/8080/health?deep=1', checkers), { protocol: 'http', port: 8080, query: 'health', queryString: 'deep=1' })
  assert.deepEqual(parseAgentCheck('web', 'http/8080/', checkers), { protocol: 'http', port: 8080, query: '', queryString: '' })
  assert.deepEqual(parseAgentCheck('db', 'tcp/5432', checkers), { protocol: 'tcp', port: 5432, query: '', queryString: '' })
  assert.deepEqual(parseAgentCheck('web', 'spool/0', checkers), { protocol: 'spool', port: 0, query: '', queryString: '' })
  for (const [service, bad] of [['web', 'gopher/70/'], ['web', 'http/8080'], ['web', 'tcp/0'], ['web', 'tcp/70000'], ['web', 'http'], ['..', 'tcp/1'], ['web', 'script/zk']]) {
    assert.throws(() => parseAgentCheck(service ?? '', bad ?? '', checkers), (err: Error) => hasCode(err, 'HC_ERR_CONFIG') && err.message.includes(`agent_checks.${service}`), bad)
  }
})
