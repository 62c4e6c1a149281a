import assert from 'node:assert/strict'
import { test } from 'node:test'
import { tcp } from '../../src/checkers/tcp.js'
import { buildTestApp, freePort, runChecker } from '../helper.js'
import { blackholePort, tcpUpstream } from '../upstreams.js'

test('tcp: a listening port answers 200 Connected in N.NNs', async (t) => {
  const up = await tcpUpstream(t)
  const { app } = await buildTestApp(t)
  for (const url of [`/tcp/db/${up.port}/`, `/tcp/db/${up.port}`]) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200)
    assert.match(res.body, /^Connected in [0-9]+\.[0-9]{2}s$/)
  }
})

test('tcp: a closed port answers 503 Unexpected error ... after N.NNs (L4CON)', async (t) => {
  const port = await freePort()
  const outcome = await runChecker(tcp, port)
  assert.equal(outcome.code, 503)
  assert.match(outcome.message, /^Unexpected error \[Errno 111\] Connection refused after [0-9]+\.[0-9]{2}s$/)
  assert.equal(outcome.checkStatus, 'L4CON')
  const { app } = await buildTestApp(t)
  assert.equal((await app.inject(`/tcp/db/${port}/`)).statusCode, 503)
})

test('tcp: a connect that never completes answers Connection timed out (L4TOUT)', async (t) => {
  const port = await blackholePort(t)
  const outcome = await runChecker(tcp, port, { healthcheck_timeout: 0.3 })
  assert.equal(outcome.code, 503)
  assert.match(outcome.message, /^Connection timed out after [0-9]+\.[0-9]{2}s$/)
  assert.equal(outcome.checkStatus, 'L4TOUT')
})

test('tcp: port 0 is not a probe target (400)', async (t) => {
  const { app } = await buildTestApp(t)
  assert.equal((await app.inject('/tcp/db/0/')).statusCode, 400)
})
