import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseInfo, redis, redisRole } from '../../src/checkers/redis.js'
import { startRedis, startRedisPair } from '../databases.js'
import { buildTestApp, freePort, runChecker, waitFor } from '../helper.js'
import { assertSecretKept } from '../secrets.js'
import { countingProxy } from '../tcp-proxy.js'

// The shared Redis on 127.0.0.1:6379 is the master for PING and /master. The replica, role
// flips and AUTH run against a master and replica this file starts (free ports, no
// persistence): a replica of the shared server would wait for its full sync (diskless, after
// a 5 s delay by default) and load it.

const LOCAL = 6379

test('redis: PING on the shared server answers 200 PONG (L7OK); /master passes, /replica fails', async (t) => {
  const { app } = await buildTestApp(t, { cache_time: 0 })
  let res = await app.inject(`/redis/cache/${LOCAL}/`)
  assert.deepEqual([res.statusCode, res.body, res.headers['x-hacheck-status']], [200, 'PONG', 'L7OK'])
  res = await app.inject(`/redis/cache/${LOCAL}/master`)
  assert.deepEqual([res.statusCode, res.headers['x-hacheck-status']], [200, 'L7OK'])
  assert.match(res.body, /^role master \([0-9]+ connected replicas\)$/)
  res = await app.inject(`/redis/cache/${LOCAL}/replica`)
  assert.deepEqual([res.statusCode, res.headers['x-hacheck-status']], [503, 'L7STS'])
  assert.match(res.body, /^role master \([0-9]+ connected replicas\), wanted replica$/)
})

test('redis: a password the server does not ask for is a failed login, not a warning (L7STS)', async () => {
  const outcome = await runChecker(redis, LOCAL, { redis_password: 'not-configured-there' })
  assert.deepEqual([outcome.code, outcome.checkStatus], [503, 'L7STS'])
  assert.match(outcome.message, /^Redis sez ERR AUTH <password> called without any password configured/)
})

test('redis: one fresh connection per probe, closed after it; concurrent checks share one probe', async (t) => {
  const proxy = await countingProxy(t, LOCAL)
  const { app } = await buildTestApp(t, { cache_time: 10 })
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await app.inject(`/redis/cache/${proxy.port}/master`)))
  assert.ok(answers.every((r) => r.statusCode === 200))
  assert.equal(proxy.connections(), 1, 'eight concurrent checks, one probe')
  for (let i = 0; i < 3; i++) await app.inject({ url: `/redis/cache/${proxy.port}/master`, headers: { pragma: 'no-cache' } })
  assert.equal(proxy.connections(), 4, 'each probe opens its own connection')
  await waitFor(async () => proxy.open() === 0 ? true : undefined, 3000, 'probe connections to close')
})

test('redis: connects to the address the check guard approved, never resolving the host again', async () => {
  const outcome = await runChecker(redis, LOCAL, {}, { host: 'cache.invalid', address: '127.0.0.1' })
  assert.deepEqual([outcome.code, outcome.message], [200, 'PONG'])
})

test('redis: role from INFO replication', () => {
  const info = (text: string): Map<string, string> => parseInfo(`# Replication\r\n${text.split(' ').join('\r\n')}\r\n`)
  assert.deepEqual(redisRole(info('role:master connected_slaves:2')), { role: 'master', detail: '2 connected replicas' })
  assert.deepEqual(redisRole(info('role:slave master_link_status:up master_last_io_seconds_ago:3')), { role: 'replica', lagSeconds: 3 })
  assert.deepEqual(redisRole(info('role:slave master_link_status:up master_last_io_seconds_ago:-1')), { role: 'replica', lagSeconds: null })
  assert.deepEqual(redisRole(info('role:slave master_link_status:down master_sync_in_progress:1')),
    { role: 'replica', lagSeconds: null, problem: 'link to master down, sync in progress' })
  assert.throws(() => redisRole(info('nothing:here')), { code: 'HC_ERR_ROLE_ANSWER', message: 'unexpected answer to INFO replication: no role field' })
})

test('redis: a master and a replica of their own', async (t) => {
  const { master, replica } = await startRedisPair(t)
  const { app } = await buildTestApp(t, { cache_time: 0 })
  const ports = { redis_credential_ports: [master.port, replica.port, LOCAL] }
  const check = async (port: number, path: string): Promise<[number, string, unknown]> => {
    const res = await app.inject(`/redis/cache/${port}/${path}`)
    return [res.statusCode, res.body, res.headers['x-hacheck-status']]
  }

  await t.test('/replica passes on the replica with its link up; /master fails there', async () => {
    const [code, body, status] = await check(replica.port, 'replica')
    assert.deepEqual([code, status], [200, 'L7OK'])
    assert.match(body, /^role replica, lag [0-9]+ s$/)
    assert.match((await check(replica.port, 'master'))[1], /^role replica, lag [0-9]+ s, wanted master$/)
    assert.deepEqual(await check(master.port, 'master'), [200, 'role master (1 connected replicas)', 'L7OK'])
  })

  await t.test('master_last_io_seconds_ago above max_lag_seconds fails; a write from the master brings it back', async () => {
    // The master pings its replicas every 10 s (repl-ping-replica-period): between pings, and
    // without writes, the replica's last I/O ages a second at a time.
    const body = await waitFor(async () => {
      const [code, text] = await check(replica.port, 'replica?max_lag_seconds=1')
      return code === 503 ? text : undefined
    }, 8000, 'the last I/O to age past 1 s')
    assert.match(body, /^role replica, lag [2-9] s, over max_lag_seconds 1$/)
    await master.admin.set('hacheck:lag', String(Date.now()))
    await waitFor(async () => (await check(replica.port, 'replica?max_lag_seconds=1'))[0] === 200 ? true : undefined, 5000, 'the write to arrive')
  })

  await t.test('a replica whose link is down fails /replica; REPLICAOF NO ONE makes it a master', async () => {
    await replica.admin.call('REPLICAOF', '127.0.0.1', String(await freePort()))
    const [code, body, status] = await waitFor(async () => {
      const answer = await check(replica.port, 'replica')
      return answer[0] === 503 ? answer : undefined
    }, 5000, 'the link to go down')
    assert.deepEqual([code, status], [503, 'L7STS'])
    assert.match(body, /^role replica, lag unknown, link to master (down|connect|connecting)/)
    await replica.admin.call('REPLICAOF', 'NO', 'ONE')
    assert.deepEqual(await check(replica.port, 'master'), [200, 'role master (0 connected replicas)', 'L7OK'])
    assert.deepEqual(await check(replica.port, 'replica'), [503, 'role master (0 connected replicas), wanted replica', 'L7STS'])
  })

  await t.test('AUTH as an ACL user: right password passes, a wrong one is WRONGPASS (L7STS)', async () => {
    const user = `hacheck_t${process.pid}`
    const password = `pw-${Math.random().toString(36).slice(2)}`
    await master.admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '+ping', '+info')
    const ok = await runChecker(redis, master.port, { redis_username: user, redis_password: password, ...ports }, { query: 'master' })
    assert.deepEqual([ok.code, ok.message, ok.checkStatus], [200, 'role master (0 connected replicas)', 'L7OK'])
    const wrong = await runChecker(redis, master.port, { redis_username: user, redis_password: 'wrong', ...ports })
    assert.deepEqual([wrong.code, wrong.message, wrong.checkStatus], [503, 'Redis sez WRONGPASS invalid username-password pair or user is disabled.', 'L7STS'])
    // A user allowed PING only: the role query is the server's refusal.
    await master.admin.call('ACL', 'SETUSER', user, '-info')
    const denied = await runChecker(redis, master.port, { redis_username: user, redis_password: password, ...ports }, { query: 'master' })
    assert.deepEqual([denied.code, denied.checkStatus], [503, 'L7STS'])
    assert.match(denied.message, /^Redis sez NOPERM /)
    const secret = `secret-${Math.random().toString(36).slice(2)}`
    await master.admin.call('ACL', 'SETUSER', user, 'resetpass', `>${secret}`, '+info')
    const codes = await assertSecretKept(t, { redis_username: user, redis_password: secret, ...ports }, secret,
      [`/redis/cache/${master.port}/master`, `/redis/cache/${replica.port}/`, `/redis/cache/${LOCAL}/`])
    assert.deepEqual(codes, [200, 503, 503], 'right password; user unknown there; server without passwords')
  })
})

test('redis: requirepass without a configured password is NOAUTH; with it, AUTH <password> passes', async (t) => {
  const password = `pw-${Math.random().toString(36).slice(2)}`
  const server = await startRedis(t, ['--requirepass', password], password)
  const none = await runChecker(redis, server.port)
  assert.deepEqual([none.code, none.message, none.checkStatus], [503, 'Redis sez NOAUTH Authentication required.', 'L7STS'])
  const ok = await runChecker(redis, server.port, { redis_password: password, redis_credential_ports: [server.port] })
  assert.deepEqual([ok.code, ok.message], [200, 'PONG'])
})
