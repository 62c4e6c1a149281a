import assert from 'node:assert/strict'
import { test } from 'node:test'
import { smtp, takeReply } from '../../src/checkers/smtp.js'
import { buildTestApp, freePort, runChecker } from '../helper.js'
import { smtpUpstream, tcpUpstream } from '../upstreams.js'

test('smtp: banner, QUIT, 221 answers 200 Connected in N.NNs', async (t) => {
  const up = await smtpUpstream(t)
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/smtp/mail/${up.port}/`)
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /^Connected in [0-9]+\.[0-9]{2}s$/)
})

test('smtp: a multi-line banner is read whole', async (t) => {
  const up = await smtpUpstream(t, '220-test.local ESMTP\r\n220-more text\r\n220 ready\r\n')
  const outcome = await runChecker(smtp, up.port)
  assert.equal(outcome.code, 200)
  assert.equal(outcome.checkStatus, 'L7OK')
})

test('smtp: a peer that closes without a banner: Peer unexpectedly closed connection', async (t) => {
  const up = await tcpUpstream(t, (socket) => { socket.end() })
  const outcome = await runChecker(smtp, up.port)
  assert.deepEqual([outcome.code, outcome.message, outcome.checkStatus], [503, 'Peer unexpectedly closed connection', 'L7RSP'])
})

test('smtp: a refusing banner or a bad QUIT reply is down (L7STS)', async (t) => {
  let up = await smtpUpstream(t, '554 go away\r\n')
  let outcome = await runChecker(smtp, up.port)
  assert.deepEqual([outcome.code, outcome.message, outcome.checkStatus], [503, 'Unexpected banner 554 go away', 'L7STS'])
  up = await smtpUpstream(t, '220 hi\r\n', '500 what\r\n')
  outcome = await runChecker(smtp, up.port)
  assert.deepEqual([outcome.code, outcome.message], [503, 'Unexpected reply to QUIT: 500 what'])
  up = await smtpUpstream(t, '220 hi\r\n', null)
  outcome = await runChecker(smtp, up.port)
  assert.equal(outcome.message, 'Peer unexpectedly closed connection')
})

test('smtp: garbage is an invalid response (L7RSP)', async (t) => {
  const up = await smtpUpstream(t, 'HTTP/1.1 400 Bad Request\r\n')
  const outcome = await runChecker(smtp, up.port)
  assert.equal(outcome.code, 503)
  assert.equal(outcome.checkStatus, 'L7RSP')
  assert.match(outcome.message, /^Unexpected reply /)
})

test('smtp: a silent server times out (L7TOUT); a closed port is L4CON', async (t) => {
  const silent = await tcpUpstream(t)
  let outcome = await runChecker(smtp, silent.port, { healthcheck_timeout: 0.3 })
  assert.equal(outcome.code, 503)
  assert.match(outcome.message, /^Timed out after [0-9]+\.[0-9]{2}s$/)
  assert.equal(outcome.checkStatus, 'L7TOUT')
  outcome = await runChecker(smtp, await freePort())
  assert.equal(outcome.checkStatus, 'L4CON')
})

test('takeReply parses complete replies only', () => {
  assert.equal(takeReply('220 partial'), null)
  assert.equal(takeReply('220-first\r\n'), null)
  assert.deepEqual(takeReply('220-a\r\n220 b\r\nrest'), { code: 220, text: '220-a\r\n220 b', rest: 'rest' })
  assert.deepEqual(takeReply('hello\r\n'), { code: null, text: 'hello', rest: '' })
})
