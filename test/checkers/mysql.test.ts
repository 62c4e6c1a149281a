import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mysql } from '../../src/checkers/mysql.js'
import { buildTestApp, freePort, runChecker, untilSettled } from '../helper.js'
import { MYSQL, mysqlCheckUser, tcpUpstream } from '../upstreams.js'

// These run against the MariaDB on 127.0.0.1:3306 and never skip: CI has it too.

test('mysql: a check user with no privileges logs in and quits: 200', async (t) => {
  const { user, password } = await mysqlCheckUser(t)
  const { app } = await buildTestApp(t, { mysql_username: user, mysql_password: password })
  const res = await app.inject(`/mysql/db/${MYSQL.port}/`)
  assert.equal(res.statusCode, 200, res.body)
  assert.match(res.body, /^MySQL connect response: .*MariaDB/)
  assert.equal((await app.inject(`/mysql/db/${MYSQL.port}`)).statusCode, 200, 'no trailing slash is fine')
  // As in the reference, a query that names no role is ignored: the plain login check.
  const other = await app.inject(`/mysql/db/${MYSQL.port}/health?x=1`)
  assert.equal(other.statusCode, 200, other.body)
  assert.match(other.body, /^MySQL connect response: /)
})

test('mysql: no credentials configured: 500 No MySQL username/pasword in config file', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/mysql/db/${MYSQL.port}/`)
  assert.equal(res.statusCode, 500)
  assert.equal(res.body, 'No MySQL username/pasword in config file')
})

test('mysql: a refused login: 500 MySQL sez <server error>', async (t) => {
  const { user } = await mysqlCheckUser(t)
  const outcome = await runChecker(mysql, MYSQL.port, { mysql_username: user, mysql_password: 'wrong' })
  assert.equal(outcome.code, 500)
  assert.match(outcome.message, /^MySQL sez \(1045, "Access denied for user '.*'@'127\.0\.0\.1' \(using password: YES\)"\)$/)
  assert.equal(outcome.checkStatus, 'L7STS')
})

test('mysql: a closed port answers 503 quickly (L4CON)', async () => {
  const port = await freePort()
  const outcome = await runChecker(mysql, port, { mysql_username: 'x', mysql_password: 'y', mysql_credential_ports: [port] })
  assert.equal(outcome.code, 503)
  assert.match(outcome.message, /Connection refused/)
  assert.equal(outcome.checkStatus, 'L4CON')
})

test('mysql: a silent server answers 5xx within healthcheck_timeout (the reference hangs)', async (t) => {
  const silent = await tcpUpstream(t)
  const { value: outcome, ms } = await untilSettled(async () => await runChecker(mysql, silent.port, { mysql_username: 'x', mysql_password: 'y', mysql_credential_ports: [silent.port], healthcheck_timeout: 0.4 }), 'a check of a silent server')
  assert.ok(outcome.code >= 500, String(outcome.code))
  assert.equal(outcome.checkStatus, 'L7TOUT')
  // Both bounds are healthcheck_timeout: the probe's signal, and the connect timeout given to mysql2.
  assert.match(outcome.message, /^(MySQL server did not answer within|Connection timed out after) [0-9]+\.[0-9]{2}s$/)
  t.diagnostic(`timeout 0.4 s: answered after ${ms.toFixed(0)} ms`)
})

test('mysql: garbage instead of a handshake is down (L7RSP), never a crash', async (t) => {
  const garbage = await tcpUpstream(t, (socket) => { socket.end('HTTP/1.1 400 Bad Request\r\n\r\n') })
  const outcome = await runChecker(mysql, garbage.port, { mysql_username: 'x', mysql_password: 'y', mysql_credential_ports: [garbage.port], healthcheck_timeout: 1 })
  assert.ok(outcome.code >= 500)
})
