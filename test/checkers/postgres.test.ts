import assert from 'node:assert/strict'
import { test } from 'node:test'
import { postgres, replicaRole } from '../../src/checkers/postgres.js'
import { startPgStandby, startPostgres, type PgServer } from '../databases.js'
import { buildTestApp, runChecker, waitFor } from '../helper.js'
import { assertSecretKept } from '../secrets.js'
import { countingProxy } from '../tcp-proxy.js'

// The local PostgreSQL on 127.0.0.1:5432 (trust) answers the login and primary checks. The
// replica, lag, promotion and password tests use a primary and a streaming standby this file
// starts for itself (the shared server trusts everyone and allows no replication).

const LOCAL = 5432
const uniq = (): string => `hacheck_t${process.pid}_${Math.floor(Math.random() * 1e6)}`

test('postgres: a trusted login on the local server answers 200 naming the role (L7OK)', async (t) => {
  const { app } = await buildTestApp(t, { postgres_username: 'postgres', cache_time: 0 })
  const res = await app.inject(`/postgres/db/${LOCAL}/`)
  assert.equal(res.statusCode, 200, res.body)
  assert.match(res.body, /^role primary, login postgres@postgres \(PostgreSQL [0-9.]+\)$/)
  assert.equal(res.headers['x-hacheck-status'], 'L7OK')
  assert.equal((await app.inject(`/postgres/db/${LOCAL}`)).statusCode, 200, 'no trailing slash is fine')
})

test('postgres: /primary passes on the local primary; /replica fails naming the role found (L7STS)', async (t) => {
  const { app } = await buildTestApp(t, { postgres_username: 'postgres', cache_time: 0 })
  let res = await app.inject(`/postgres/db/${LOCAL}/primary`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [200, 'role primary', 'L7OK'])
  res = await app.inject(`/postgres/db/${LOCAL}/replica?max_lag_seconds=5`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [503, 'role primary, wanted replica', 'L7STS'])
})

test('postgres: no postgres_username configured: 500, nothing contacted', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject(`/postgres/db/${LOCAL}/`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [500, 'No PostgreSQL username in config file', 'L7STS'])
})

test('postgres: a database that does not exist is the server\'s refusal (L7STS)', async () => {
  const outcome = await runChecker(postgres, LOCAL, { postgres_username: 'postgres', postgres_database: `nope_${uniq()}` })
  assert.equal(outcome.code, 503)
  assert.match(outcome.message, /^PostgreSQL sez FATAL 3D000: database "nope_.*" does not exist$/)
  assert.equal(outcome.checkStatus, 'L7STS')
})

test('postgres: one fresh connection per probe, closed after it; concurrent checks share one probe', async (t) => {
  const proxy = await countingProxy(t, LOCAL)
  const { app } = await buildTestApp(t, { postgres_username: 'postgres', cache_time: 10 })
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await app.inject(`/postgres/db/${proxy.port}/primary`)))
  assert.ok(answers.every((r) => r.statusCode === 200))
  assert.equal(proxy.connections(), 1, 'eight concurrent checks, one probe')
  assert.equal((await app.inject(`/postgres/db/${proxy.port}/primary`)).statusCode, 200)
  assert.equal(proxy.connections(), 1, 'answered from the cache')
  for (let i = 0; i < 3; i++) await app.inject({ url: `/postgres/db/${proxy.port}/primary`, headers: { pragma: 'no-cache' } })
  assert.equal(proxy.connections(), 4, 'each probe opens its own connection')
  await waitFor(async () => proxy.open() === 0 ? true : undefined, 3000, 'probe connections to close')
})

test('postgres: connects to the address the check guard approved, never resolving the host again', async () => {
  const outcome = await runChecker(postgres, LOCAL, { postgres_username: 'postgres' }, { host: 'db.invalid', address: '127.0.0.1', query: 'primary' })
  assert.deepEqual([outcome.code, outcome.message], [200, 'role primary'])
})

test('postgres: replica role from a status row', () => {
  const row = { in_recovery: true, has_receiver: true, receiver_status: 'streaming', lag_bytes: 0, replay_age: 99 }
  assert.deepEqual(replicaRole(row, 'u'), { role: 'replica', lagSeconds: 0, lagBytes: 0 })
  assert.deepEqual(replicaRole({ ...row, lag_bytes: 800, replay_age: 2.5 }, 'u'), { role: 'replica', lagSeconds: 2.5, lagBytes: 800 })
  assert.deepEqual(replicaRole({ ...row, lag_bytes: 800, replay_age: null }, 'u'), { role: 'replica', lagSeconds: null, lagBytes: 800 })
  assert.equal(replicaRole({ ...row, has_receiver: false }, 'u').problem, 'not streaming (no WAL receiver)')
  assert.equal(replicaRole({ ...row, receiver_status: 'waiting' }, 'u').problem, 'WAL receiver waiting, not streaming')
  assert.equal(replicaRole({ ...row, receiver_status: null }, 'u').problem, 'WAL receiver not readable by u (GRANT pg_monitor TO u)')
  assert.deepEqual(replicaRole({ ...row, in_recovery: false }, 'u'), { role: 'primary' })
})

test('postgres: a primary and a streaming standby of its own', async (t) => {
  const primary = await startPostgres(t)
  const standby = await startPgStandby(t, primary)
  const { app } = await buildTestApp(t, { postgres_username: 'postgres', cache_time: 0 })
  const ports = { postgres_credential_ports: [primary.port, standby.port, LOCAL] }
  const check = async (server: PgServer, path: string): Promise<[number, string, unknown]> => {
    const res = await app.inject(`/postgres/db/${server.port}/${path}`)
    return [res.statusCode, res.body, res.headers['x-hacheck-status']]
  }

  await t.test('the standby: /replica passes with its lag, /primary fails, the login names it a replica', async () => {
    assert.deepEqual(await check(standby, 'replica'), [200, 'role replica, lag 0 s, 0 bytes', 'L7OK'])
    assert.deepEqual(await check(standby, 'replica?max_lag_seconds=5&max_lag_bytes=1048576'), [200, 'role replica, lag 0 s, 0 bytes', 'L7OK'])
    assert.deepEqual(await check(standby, 'primary'), [503, 'role replica, wanted primary', 'L7STS'])
    assert.deepEqual(await check(primary, 'primary'), [200, 'role primary', 'L7OK'])
    const [code, body] = await check(standby, '')
    assert.equal(code, 200)
    assert.match(body, /^role replica, login postgres@postgres /)
  })

  await t.test('replay lag beyond max_lag_bytes / max_lag_seconds fails; within them passes', async () => {
    await primary.sql('CREATE TABLE lag_probe (id int, pad text)')
    await primary.sql('INSERT INTO lag_probe VALUES (0, \'first\')')
    await waitFor(async () => (await standby.sql<{ n: string }>('SELECT count(*) AS n FROM lag_probe').catch(() => []))[0]?.n === '1' ? true : undefined, 10000, 'the first row on the standby')
    await standby.sql('SELECT pg_wal_replay_pause()')
    t.after(async () => { await standby.sql('SELECT pg_wal_replay_resume()').catch(() => {}) })
    await new Promise((resolve) => setTimeout(resolve, 1200)) // the replay lag grows past 1.2 s (more on a busy machine)
    await primary.sql('INSERT INTO lag_probe SELECT g, repeat(\'x\', 100) FROM generate_series(1, 5000) AS g')
    await waitFor(async () => {
      const [row] = await standby.sql<{ lag: number | null }>('SELECT pg_wal_lsn_diff(latest_end_lsn, pg_last_wal_replay_lsn())::float8 AS lag FROM pg_stat_wal_receiver')
      return (row?.lag ?? 0) > 100_000 ? true : undefined
    }, 10000, 'the standby to receive WAL it does not replay')
    let [code, body, status] = await check(standby, 'replica?max_lag_bytes=1000')
    assert.deepEqual([code, status], [503, 'L7STS'])
    assert.match(body, /^role replica, lag [0-9.]+ s, [0-9]+ bytes, over max_lag_bytes 1000$/)
    ;[code, body, status] = await check(standby, 'replica?max_lag_seconds=1')
    assert.deepEqual([code, status], [503, 'L7STS'])
    assert.match(body, /^role replica, lag [0-9.]+ s, [0-9]+ bytes, over max_lag_seconds 1$/)
    assert.ok(Number(/lag ([0-9.]+) s/.exec(body)?.[1]) >= 1.2, body)
    ;[code, body, status] = await check(standby, 'replica?max_lag_seconds=3600&max_lag_bytes=1000000000')
    assert.deepEqual([code, status], [200, 'L7OK'])
    assert.match(body, /^role replica, lag [0-9.]+ s, [0-9]+ bytes$/)
    await standby.sql('SELECT pg_wal_replay_resume()')
    await waitFor(async () => (await check(standby, 'replica?max_lag_seconds=1'))[0] === 200 ? true : undefined, 10000, 'replay to catch up')
  })

  await t.test('SCRAM-SHA-256 and md5 logins; a wrong password, no password, a cleartext request refused', async () => {
    const scram = uniq()
    const md5 = uniq()
    const clear = uniq()
    const password = `pw-${uniq()}`
    await primary.sql(`CREATE ROLE ${scram} LOGIN PASSWORD '${password}'`)
    await primary.sql(`SET password_encryption = 'md5'; CREATE ROLE ${md5} LOGIN PASSWORD '${password}'`)
    await primary.sql(`CREATE ROLE cleartext_users; CREATE ROLE ${clear} LOGIN PASSWORD '${password}' IN ROLE cleartext_users`)
    t.after(async () => { await primary.sql(`DROP ROLE IF EXISTS ${scram}, ${md5}, ${clear}, cleartext_users`).catch(() => {}) })
    const [stored] = await primary.sql<{ s: string, m: string }>(`SELECT (SELECT rolpassword FROM pg_authid WHERE rolname = '${scram}') AS s, (SELECT rolpassword FROM pg_authid WHERE rolname = '${md5}') AS m`)
    assert.match(stored?.s ?? '', /^SCRAM-SHA-256\$/)
    assert.match(stored?.m ?? '', /^md5/)

    // md5 only with postgres_allow_md5: its answer, salted by the server, can be cracked offline.
    const refused = await runChecker(postgres, primary.port, { postgres_username: md5, postgres_password: password, ...ports })
    assert.deepEqual([refused.code, refused.checkStatus], [503, 'L7STS'])
    assert.match(refused.message, /^PostgreSQL server asked for an md5 password: refused/)
    for (const user of [scram, md5]) {
      const ok = await runChecker(postgres, primary.port, { postgres_username: user, postgres_password: password, postgres_allow_md5: user === md5, ...ports })
      assert.deepEqual([ok.code, ok.checkStatus], [200, 'L7OK'], ok.message)
      assert.match(ok.message, new RegExp(`^role primary, login ${user}@postgres `))
      const wrong = await runChecker(postgres, primary.port, { postgres_username: user, postgres_password: 'wrong', postgres_allow_md5: true, ...ports })
      assert.deepEqual([wrong.code, wrong.message, wrong.checkStatus], [503, `PostgreSQL sez FATAL 28P01: password authentication failed for user "${user}"`, 'L7STS'])
    }
    const none = await runChecker(postgres, primary.port, { postgres_username: scram, ...ports })
    assert.deepEqual([none.code, none.message, none.checkStatus], [503, 'PostgreSQL server asked for a password and postgres_password is not set', 'L7STS'])
    const cleartext = await runChecker(postgres, primary.port, { postgres_username: clear, postgres_password: password, ...ports })
    assert.deepEqual([cleartext.code, cleartext.checkStatus], [503, 'L7STS'])
    assert.match(cleartext.message, /^PostgreSQL server asked for the password in clear text: refused/)

    // Without pg_read_all_stats the WAL receiver's state is hidden: /replica says what to grant.
    await waitFor(async () => (await standby.sql(`SELECT 1 FROM pg_roles WHERE rolname = '${scram}'`)).length === 1 ? true : undefined, 10000, 'the role on the standby')
    const hidden = await runChecker(postgres, standby.port, { postgres_username: scram, postgres_password: password, ...ports }, { query: 'replica' })
    assert.deepEqual([hidden.code, hidden.message, hidden.checkStatus],
      [503, `role replica, lag unknown, WAL receiver not readable by ${scram} (GRANT pg_monitor TO ${scram})`, 'L7STS'])
    await primary.sql(`GRANT pg_monitor TO ${scram}`)
    await waitFor(async () => (await runChecker(postgres, standby.port, { postgres_username: scram, postgres_password: password, ...ports }, { query: 'replica' })).code === 200 ? true : undefined,
      10000, '/replica to pass once pg_monitor is granted')
  })

  await t.test('the password is in no answer, no log line (-v) and not in /recent', async (t) => {
    const user = uniq()
    const secret = `secret-${uniq()}`
    await primary.sql(`CREATE ROLE ${user} LOGIN PASSWORD '${secret}'`)
    t.after(async () => { await primary.sql(`DROP ROLE IF EXISTS ${user}`).catch(() => {}) })
    await waitFor(async () => (await standby.sql(`SELECT 1 FROM pg_roles WHERE rolname = '${user}'`)).length === 1 ? true : undefined, 10000, 'the role on the standby')
    const codes = await assertSecretKept(t, { postgres_username: user, postgres_password: secret, ...ports }, secret, [
      `/postgres/db/${primary.port}/`, `/postgres/db/${standby.port}/primary`, `/postgres/db/${LOCAL}/`,
      // Then the password is sent (as a SCRAM proof) and refused.
      async () => { await primary.sql(`ALTER ROLE ${user} PASSWORD 'something-else'`) },
      `/postgres/db/${primary.port}/`
    ])
    assert.deepEqual(codes, [200, 503, 503, 503], 'login; wrong role; a user the local server does not know; a refused password')
  })

  await t.test('pg_ctl promote flips the standby\'s answers', async () => {
    await standby.promote()
    assert.deepEqual(await check(standby, 'primary'), [200, 'role primary', 'L7OK'])
    assert.deepEqual(await check(standby, 'replica'), [503, 'role primary, wanted replica', 'L7STS'])
  })
})
