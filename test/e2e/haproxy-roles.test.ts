/**
 * Routing by role with a real HAProxy 2.6 and the built `bin/hacheck`, as README "Routing by
 * role" sets it up: write backends checked with `/primary` (`/master` for Redis), read
 * backends with `/replica?max_lag_seconds=N`, each server's own port sent by
 * `http-check send-state`. Only the primary is UP in a write backend; after a failover (the
 * standby promoted, the old primary stopped) HAProxy marks the new primary UP within
 * `inter × fall` + 1 s. PostgreSQL, MariaDB and Redis pairs are started by the test.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import { startMariadbPair, startPgStandby, startPostgres, startRedisPair } from '../databases.js'
import { startHacheckProcess } from './hacheck-process.js'
import { startHaproxy, type Haproxy, type StatRow } from './haproxy.js'

const INTER_MS = 200
const FALL = 2
/** README's promise: a new primary is UP within inter × fall + 1 s. */
const FAILOVER_MS = INTER_MS * FALL + 1000

/**
 * A backend of two servers checked through hacheck with `path` (the port in it is replaced by
 * send-state), shaped as README's: write backends (`/primary`, `/master`) close the sessions of
 * a server marked down.
 */
function backend (name: string, path: string, hacheckPort: number, ports: [number, number]): string {
  const write = /\/(primary|master)$/.test(path)
  return [
    `backend ${name}`,
    '  mode tcp',
    ...(write ? [] : ['  balance leastconn']),
    `  option httpchk GET ${path}`,
    '  http-check send-state',
    `  default-server check port ${hacheckPort} inter ${INTER_MS} fall ${FALL} rise ${FALL}${write ? ' on-marked-down shutdown-sessions' : ''}`,
    `  server a 127.0.0.1:${ports[0]}`,
    `  server b 127.0.0.1:${ports[1]}`
  ].join('\n')
}

// HAProxy's check_status is about its HTTP check of hacheck: any 503 from hacheck is L7STS,
// whatever hacheck's own status for the database (X-Hacheck-Status) was.
const up = (row: StatRow): boolean => row.status === 'UP' && row.check_status === 'L7OK'
const down = (row: StatRow): boolean => row.status === 'DOWN' && row.check_status === 'L7STS'

/** Waits until both servers of `name` meet their predicates; returns the seconds it took. */
async function converge (haproxy: Haproxy, name: string, a: (row: StatRow) => boolean, b: (row: StatRow) => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now()
  await Promise.all([haproxy.waitFor(name, 'a', a, timeoutMs), haproxy.waitFor(name, 'b', b, timeoutMs)])
  return (performance.now() - started) / 1000
}

test('HAProxy routes by role through hacheck: PostgreSQL, MariaDB and Redis, and follows a failover', async (t) => {
  const [pg, my, rd] = await Promise.all([
    startPostgres(t).then(async (primary) => ({ primary, standby: await startPgStandby(t, primary) })),
    startMariadbPair(t),
    startRedisPair(t)
  ])
  const hacheck = await startHacheckProcess(t, {
    // A cache shorter than `inter`, as README advises for role checks.
    config: { cache_time: 0.1, healthcheck_timeout: 1, postgres_username: 'postgres', mysql_username: 'root', mysql_password: '' }
  })
  const haproxy = await startHaproxy(t, [
    backend('pg_write', '/postgres/db/5432/primary', hacheck.port, [pg.primary.port, pg.standby.port]),
    backend('pg_read', '/postgres/db/5432/replica?max_lag_seconds=10', hacheck.port, [pg.primary.port, pg.standby.port]),
    backend('my_write', '/mysql/db/3306/primary', hacheck.port, [my.primary.port, my.replica.port]),
    backend('my_read', '/mysql/db/3306/replica?max_lag_seconds=10', hacheck.port, [my.primary.port, my.replica.port]),
    backend('redis_write', '/redis/cache/6379/master', hacheck.port, [rd.master.port, rd.replica.port]),
    backend('redis_read', '/redis/cache/6379/replica', hacheck.port, [rd.master.port, rd.replica.port])
  ].join('\n'))

  // The replica answers 503 (L7STS) to /primary; HAProxy takes it down after `fall` checks.
  const initial = [
    await converge(haproxy, 'pg_write', up, down, 5000),
    await converge(haproxy, 'pg_read', down, up, 5000),
    await converge(haproxy, 'my_write', up, down, 5000),
    await converge(haproxy, 'my_read', down, up, 5000),
    await converge(haproxy, 'redis_write', up, down, 5000),
    await converge(haproxy, 'redis_read', down, up, 5000)
  ]
  t.diagnostic(`initial state: every write backend has only its primary UP, every read backend only its replica (${Math.max(...initial).toFixed(2)} s)`)

  // PostgreSQL: stop the old primary, promote the standby.
  await Promise.all([pg.primary.stop(), pg.standby.promote()])
  let took = await converge(haproxy, 'pg_write', down, up, FAILOVER_MS)
  t.diagnostic(`PostgreSQL failover: the promoted standby UP in pg_write after ${took.toFixed(2)} s (README: within ${FAILOVER_MS / 1000} s)`)
  const stopped = await fetch(hacheck.url(`/postgres/db/${pg.primary.port}/primary`))
  assert.deepEqual([stopped.status, stopped.headers.get('x-hacheck-status')], [503, 'L4CON'], 'hacheck saw the old primary refuse connections')
  await converge(haproxy, 'pg_read', down, down, FAILOVER_MS)

  // Redis: stop the master, REPLICAOF NO ONE on the replica.
  await Promise.all([rd.master.kill(), rd.replica.admin.call('REPLICAOF', 'NO', 'ONE')])
  took = await converge(haproxy, 'redis_write', down, up, FAILOVER_MS)
  t.diagnostic(`Redis failover: the former replica UP in redis_write after ${took.toFixed(2)} s (README: within ${FAILOVER_MS / 1000} s)`)

  // MariaDB: the writer flag moves (read_only on the old primary, off on the new one).
  const [oldPrimary, newPrimary] = [await my.primary.root(), await my.replica.root()]
  await Promise.all([oldPrimary.query('SET GLOBAL read_only = ON'), newPrimary.query('STOP SLAVE'), newPrimary.query('SET GLOBAL read_only = OFF')])
  took = await converge(haproxy, 'my_write', down, up, FAILOVER_MS)
  t.diagnostic(`MariaDB switchover: the new writer UP in my_write after ${took.toFixed(2)} s (README: within ${FAILOVER_MS / 1000} s)`)
})
