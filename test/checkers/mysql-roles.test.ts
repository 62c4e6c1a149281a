import assert from 'node:assert/strict'
import { test } from 'node:test'
import { replicaStatusRole } from '../../src/checkers/mysql-roles.js'
import { startMariadbPair } from '../databases.js'
import { buildTestApp, waitFor } from '../helper.js'
import { MYSQL, mysqlCheckUser } from '../upstreams.js'

// /mysql/<svc>/<port>/ is the reference's login check (test/checkers/mysql.test.ts); these are
// the role queries. The shared MariaDB on 3306 serves the primary check; a primary and a
// replica this file starts (own datadirs, free ports) serve the rest.

test('mysql: /primary on the shared server (read_only OFF) passes with a check user holding no privilege', async (t) => {
  const { user, password } = await mysqlCheckUser(t)
  const { app } = await buildTestApp(t, { mysql_username: user, mysql_password: password, cache_time: 0 })
  const res = await app.inject(`/mysql/db/${MYSQL.port}/primary`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [200, 'role primary (read_only OFF)', 'L7OK'])
  const plain = await app.inject(`/mysql/db/${MYSQL.port}/`)
  assert.match(plain.body, /^MySQL connect response: /, 'the empty query is still the reference\'s login check')
})

test('mysql: replica role from a SHOW REPLICA STATUS row (MySQL 8 and MariaDB column names)', () => {
  assert.deepEqual(replicaStatusRole(undefined), { role: 'primary', detail: 'no replication configured' })
  assert.deepEqual(replicaStatusRole({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: 3 }), { role: 'replica', lagSeconds: 3 })
  assert.deepEqual(replicaStatusRole({ Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: 0 }), { role: 'replica', lagSeconds: 0 })
  assert.deepEqual(replicaStatusRole({ Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: null }), { role: 'replica', lagSeconds: null })
  assert.deepEqual(replicaStatusRole({ Slave_IO_Running: 'Connecting', Slave_SQL_Running: 'Yes', Last_IO_Error: 'error connecting to master', Last_SQL_Error: '' }),
    { role: 'replica', lagSeconds: null, problem: 'replication not running (IO thread Connecting, SQL thread Yes): error connecting to master' })
})

test('mysql: a MariaDB primary and replica of their own', async (t) => {
  const { primary, replica } = await startMariadbPair(t)
  // A check user with only what README asks for: SLAVE MONITOR (SHOW SLAVE STATUS).
  const user = `hacheck_t${process.pid}`
  const password = `pw-${Math.random().toString(36).slice(2)}`
  const admin = await primary.root()
  await admin.query(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`)
  await admin.query(`GRANT SLAVE MONITOR ON *.* TO '${user}'@'127.0.0.1'`)
  const ports = { mysql_credential_ports: [primary.port, replica.port] }
  const { app } = await buildTestApp(t, { mysql_username: user, mysql_password: password, cache_time: 0, ...ports })
  await waitFor(async () => (await app.inject(`/mysql/db/${replica.port}/`)).statusCode === 200 ? true : undefined, 10000, 'the check user on the replica')
  const check = async (port: number, path: string): Promise<[number, string, unknown]> => {
    const res = await app.inject(`/mysql/db/${port}/${path}`)
    return [res.statusCode, res.body, res.headers['x-hacheck-status']]
  }

  await t.test('/primary passes on the primary only; /replica passes on the replica only', async () => {
    assert.deepEqual(await check(primary.port, 'primary'), [200, 'role primary (read_only OFF)', 'L7OK'])
    assert.deepEqual(await check(primary.port, 'replica'), [503, 'role primary (no replication configured), wanted replica', 'L7STS'])
    assert.deepEqual(await check(replica.port, 'replica'), [200, 'role replica, lag 0 s', 'L7OK'])
    assert.deepEqual(await check(replica.port, 'replica?max_lag_seconds=5'), [200, 'role replica, lag 0 s', 'L7OK'])
    assert.deepEqual(await check(replica.port, 'primary'), [503, 'role read-only (read_only ON), wanted primary', 'L7STS'])
  })

  await t.test('a stopped replication thread fails /replica, with or without a lag bound', async () => {
    const root = await replica.root()
    await root.query('STOP SLAVE SQL_THREAD')
    t.after(async () => { await root.query('START SLAVE').catch(() => {}) })
    assert.deepEqual(await check(replica.port, 'replica'), [503, 'role replica, lag unknown, replication not running (IO thread Yes, SQL thread No)', 'L7STS'])
    assert.deepEqual((await check(replica.port, 'replica?max_lag_seconds=60')).slice(0, 1), [503])
    await root.query('START SLAVE SQL_THREAD')
    await waitFor(async () => (await check(replica.port, 'replica'))[0] === 200 ? true : undefined, 10000, 'the SQL thread to run again')
  })

  await t.test('Seconds_Behind_Master above max_lag_seconds fails', async () => {
    // MASTER_DELAY holds replay back: Seconds_Behind_Master counts from the event's timestamp.
    const root = await replica.root()
    await root.query('STOP SLAVE')
    await root.query('CHANGE MASTER TO MASTER_DELAY=30')
    await root.query('START SLAVE')
    t.after(async () => {
      for (const sql of ['STOP SLAVE', 'CHANGE MASTER TO MASTER_DELAY=0', 'START SLAVE']) await root.query(sql).catch(() => {})
    })
    await (await primary.root()).query('CREATE DATABASE IF NOT EXISTS lag_probe')
    const [code, body, status] = await waitFor(async () => {
      const answer = await check(replica.port, 'replica?max_lag_seconds=1')
      return answer[0] === 503 ? answer : undefined
    }, 10000, 'Seconds_Behind_Master to pass 1')
    assert.equal(code, 503)
    assert.equal(status, 'L7STS')
    assert.match(body, /^role replica, lag [0-9]+ s, over max_lag_seconds 1$/)
    assert.deepEqual((await check(replica.port, 'replica?max_lag_seconds=3600')).slice(0, 1), [200])
  })

  await t.test('without SLAVE MONITOR the server\'s refusal is the answer (L7STS)', async () => {
    const bare = `hacheck_b${process.pid}`
    await (await primary.root()).query(`CREATE USER '${bare}'@'127.0.0.1' IDENTIFIED BY '${password}'`)
    const { app: bareApp } = await buildTestApp(t, { mysql_username: bare, mysql_password: password, cache_time: 0, ...ports })
    const res = await bareApp.inject(`/mysql/db/${primary.port}/replica`)
    assert.deepEqual([res.statusCode, res.headers['x-hacheck-status']], [500, 'L7STS'])
    assert.match(res.body, /^MySQL sez \(1227, "Access denied; you need \(at least one of\) the .*SLAVE MONITOR privilege/)
  })
})
