import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkers } from '../../src/checkers/index.js'
import { parseAgentCheck } from '../../src/config/agent.js'
import { parseRoleQuery, roleVerdict, type RoleSpec } from '../../src/checkers/roles.js'
import { hasCode } from '../../src/errors.js'
import { buildTestApp, countingListener } from '../helper.js'

const PG: RoleSpec = { protocol: 'postgres', roles: ['primary', 'replica'], lagRole: 'replica', lagParams: ['max_lag_seconds', 'max_lag_bytes'], otherQueries: 'reject' }

test('roles: the query names a role; the query string bounds the lag of the lag role only', () => {
  assert.deepEqual(parseRoleQuery(PG, '', ''), { role: null, maxLagSeconds: null, maxLagBytes: null })
  assert.deepEqual(parseRoleQuery(PG, 'primary', ''), { role: 'primary', maxLagSeconds: null, maxLagBytes: null })
  assert.deepEqual(parseRoleQuery(PG, 'replica', 'max_lag_seconds=2.5&max_lag_bytes=1048576'), { role: 'replica', maxLagSeconds: 2.5, maxLagBytes: 1048576 })
  const error = (query: string, qs: string): string => {
    const parsed = parseRoleQuery(PG, query, qs)
    assert.ok('error' in parsed, `${query}?${qs} was accepted`)
    return parsed.error
  }
  assert.equal(error('primry', ''), 'unknown postgres role "primry" (expected primary, replica, or nothing for a login check)')
  assert.equal(error('replica/', ''), 'unknown postgres role "replica/" (expected primary, replica, or nothing for a login check)')
  assert.equal(error('primary', 'max_lag_seconds=5'), 'max_lag_seconds applies to /replica only')
  assert.equal(error('', 'max_lag_bytes=5'), 'max_lag_bytes applies to /replica only')
  assert.equal(error('replica', 'lag=5'), 'unknown parameter "lag" for postgres (expected max_lag_seconds or max_lag_bytes)')
  assert.equal(error('replica', 'max_lag_seconds=5&max_lag_seconds=6'), 'max_lag_seconds given twice')
  for (const bad of ['', 'abc', '-1', '1e3', '5s', ' 5', '0x10']) {
    assert.match(error('replica', `max_lag_seconds=${bad}`), /^max_lag_seconds must be a number of seconds/, bad)
  }
  assert.match(error('replica', 'max_lag_bytes=1.5'), /^max_lag_bytes must be a number of bytes \(an integer\)/)
  assert.equal(error('replica', `max_lag_seconds=1&${'x'.repeat(300)}`), 'query string too long')
})

test('roles: the verdict names the role found, and fails a wrong role, a problem, or a lag over (or unknown against) a bound', () => {
  const q = (role: string | null, maxLagSeconds: number | null = null, maxLagBytes: number | null = null): Parameters<typeof roleVerdict>[0] => ({ role, maxLagSeconds, maxLagBytes })
  assert.deepEqual(roleVerdict(q('primary'), { role: 'primary' }), { code: 200, message: 'role primary', checkStatus: 'L7OK' })
  assert.deepEqual(roleVerdict(q('primary'), { role: 'replica', lagSeconds: 0 }), { code: 503, message: 'role replica, lag 0 s, wanted primary', checkStatus: 'L7STS' })
  assert.deepEqual(roleVerdict(q('replica', 5), { role: 'replica', lagSeconds: 0.0423, lagBytes: 10 }), { code: 200, message: 'role replica, lag 0.042 s, 10 bytes', checkStatus: 'L7OK' })
  assert.deepEqual(roleVerdict(q('replica', 5), { role: 'replica', lagSeconds: 7 }), { code: 503, message: 'role replica, lag 7 s, over max_lag_seconds 5', checkStatus: 'L7STS' })
  assert.deepEqual(roleVerdict(q('replica', 5), { role: 'replica', lagSeconds: null }), { code: 503, message: 'role replica, lag unknown, wanted at most 5 s', checkStatus: 'L7STS' })
  assert.deepEqual(roleVerdict(q('replica', null, 100), { role: 'replica', lagSeconds: 1, lagBytes: 101 }), { code: 503, message: 'role replica, lag 1 s, 101 bytes, over max_lag_bytes 100', checkStatus: 'L7STS' })
  assert.deepEqual(roleVerdict(q('replica'), { role: 'replica', lagSeconds: null, problem: 'link to master down' }), { code: 503, message: 'role replica, lag unknown, link to master down', checkStatus: 'L7STS' })
  assert.deepEqual(roleVerdict(q('primary'), { role: 'primary', detail: 'read_only OFF' }), { code: 200, message: 'role primary (read_only OFF)', checkStatus: 'L7OK' })
})

test('roles: a role that does not exist is a 404 at the route, before anything is contacted', async (t) => {
  const listener = await countingListener(t)
  const { app } = await buildTestApp(t, { postgres_username: 'hacheck', mysql_username: 'hacheck' })
  const cases: Array<[string, string]> = [
    [`/postgres/db/${listener.port}/leader`, 'Not Found: unknown postgres role "leader" (expected primary, replica, or nothing for a login check)'],
    [`/redis/cache/${listener.port}/primary`, 'Not Found: unknown redis role "primary" (expected master, replica, or nothing for a login check)'],
    [`/postgres/db/${listener.port}/primary?max_lag_seconds=1`, 'Not Found: max_lag_seconds applies to /replica only'],
    [`/redis/cache/${listener.port}/replica?max_lag_bytes=1`, 'Not Found: unknown parameter "max_lag_bytes" for redis (expected max_lag_seconds)'],
    [`/mysql/db/${listener.port}/replica?max_lag_seconds=soon`, 'Not Found: max_lag_seconds must be a number of seconds, got "soon"']
  ]
  for (const [url, body] of cases) {
    const res = await app.inject(url)
    assert.deepEqual([res.statusCode, res.body], [404, body], url)
  }
  // The reference's protocols still ignore the query; mysql too, unless it names a role.
  assert.equal((await app.inject(`/tcp/db/${listener.port}/anything`)).statusCode, 200)
  assert.equal(checkers.mysql.rejectsQuery?.('master', ''), undefined)
  assert.equal(checkers.mysql.rejectsQuery?.('anything', 'x=1'), undefined)
  assert.equal(checkers.mysql.rejectsQuery?.('', 'x=1'), undefined)
  assert.equal(listener.connections(), 1, 'only the tcp check connected')
})

test('roles: an agent_checks entry with an unknown role stops start-up', () => {
  assert.deepEqual(parseAgentCheck('db', 'postgres/5432/replica?max_lag_seconds=5', checkers),
    { protocol: 'postgres', port: 5432, query: 'replica', queryString: 'max_lag_seconds=5' })
  assert.throws(() => parseAgentCheck('db', 'postgres/5432/standby', checkers), (err: unknown) =>
    hasCode(err, 'HC_ERR_CONFIG') && err.message.includes('unknown postgres role "standby"'))
})

test('roles: a query echoed in a 404 carries no markup', async (t) => {
  const parsed = parseRoleQuery(PG, '<script>alert(1)</script>', '')
  assert.deepEqual(parsed, { error: 'unknown postgres role "?script?alert?1??/script?" (expected primary, replica, or nothing for a login check)' })
  const { app } = await buildTestApp(t, { postgres_username: 'hacheck' })
  const lag = await app.inject('/postgres/db/5432/replica?max_lag_seconds="><img')
  assert.deepEqual([lag.statusCode, lag.body], [404, 'Not Found: max_lag_seconds must be a number of seconds, got "%22%3E%3Cimg"'])
  assert.deepEqual(parseRoleQuery(PG, 'replica', 'max_lag_seconds="><img'), { error: 'max_lag_seconds must be a number of seconds, got "???img"' })
})
