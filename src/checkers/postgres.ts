/**
 * (ours) The `postgres` protocol: log in with `postgres_username` (trust, md5 or
 * SCRAM-SHA-256, through the `pg` client) to `postgres_database`, optionally ask the server's
 * role, and close. The query names the role wanted:
 *
 * - `/postgres/db/5432/`: the login works. The body names the role when the server reports
 *   `in_hot_standby` (PostgreSQL 14+): `role primary, login hacheck@postgres (PostgreSQL 15.2)`.
 * - `/primary`: the server is not in recovery (`pg_is_in_recovery()` false).
 * - `/replica`: the server is in recovery and its WAL receiver is streaming;
 *   `?max_lag_seconds=N` and `?max_lag_bytes=N` bound its replay lag.
 *
 * Replay lag, as Patroni's `/replica?lag=` measures it, is how far the standby's replayed WAL
 * is behind the primary's last known WAL position. Patroni keeps that position in its DCS;
 * hacheck asks the standby, whose WAL receiver holds the end of WAL the primary's sender last
 * reported (`pg_stat_wal_receiver.latest_end_lsn`, or the WAL received so far when that is
 * further or not reported yet). Bytes: that position minus `pg_last_wal_replay_lsn()`. Seconds: 0 once replay has reached it, else the age of the last
 * replayed commit (`now() - pg_last_xact_replay_timestamp()`, as postgres_exporter measures
 * lag). Reading the WAL receiver's details needs `pg_read_all_stats` (`GRANT pg_monitor`);
 * without it `/replica` fails and says so.
 *
 * Proves: the server accepts connections and authenticates the check user, and (with a role)
 * has that role now. Does not prove any table is readable or writable, nor that the primary
 * still reaches its standbys. The password comes only from the config file (never PGPASSWORD
 * or ~/.pgpass), goes only to `postgres_credential_hosts`/`_ports` (`roles.ts`), and is refused
 * to a server that asks for it in clear text, for md5 (unless `postgres_allow_md5`), or for
 * SCRAM with fewer than 4096 iterations: answers a listener could replay or crack offline.
 */
import { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Client as PgClient } from 'pg'
import { roleChecker, roleVerdict, type FoundRole, type RoleQuery, type RoleSpec } from './roles.js'
import { capReads, TooMuchDataError } from './socket.js'
import { clip, describeError, errorCode, failureStatus, seconds, type Phase } from './status.js'
import { down, up, type Checker, type CheckContext, type CheckOutcome, type CheckTarget } from './types.js'
import { HC_ERR_ROLE_ANSWER } from '../errors.js'

/** The role queries of `postgres` (Patroni's names). */
export const POSTGRES_ROLES: RoleSpec = {
  protocol: 'postgres',
  roles: ['primary', 'replica'],
  lagRole: 'replica',
  lagParams: ['max_lag_seconds', 'max_lag_bytes'],
  otherQueries: 'reject'
}

/** Fewest SCRAM iterations answered: PostgreSQL's `scram_iterations` default (RFC 7677 asks 4096). */
const MIN_SCRAM_ITERATIONS = 4096

/** Most bytes a probe reads: a login and one row take a few hundred. */
const MAX_READ_BYTES = 64 * 1024

const PRIMARY_SQL = 'SELECT pg_is_in_recovery() AS in_recovery'

/** One row, also on a primary (no WAL receiver: the LEFT JOIN gives nulls). PostgreSQL 10+. */
const REPLICA_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  r.pid IS NOT NULL AS has_receiver,
  r.status AS receiver_status,
  pg_wal_lsn_diff(GREATEST(r.latest_end_lsn, pg_last_wal_receive_lsn()), pg_last_wal_replay_lsn())::float8 AS lag_bytes,
  EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age
FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true`

interface ReplicaRow {
  in_recovery: boolean
  has_receiver: boolean
  receiver_status: string | null
  lag_bytes: number | null
  replay_age: number | null
}

/** Our refusal to log in (no password configured, or a cleartext request): an L7STS failure. */
class LoginRefused extends Error {}

/** A PostgreSQL ErrorResponse: the server answered, with an error (SQLSTATE in `code`). */
function isServerError (err: unknown): err is Error & { severity: string, code: string } {
  const e = err as { severity?: unknown, code?: unknown } | null
  return typeof e?.severity === 'string' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)
}

/** What a replica row says about the server. */
export function replicaRole (row: ReplicaRow, user: string): FoundRole {
  if (!row.in_recovery) return { role: 'primary' }
  if (!row.has_receiver) return { role: 'replica', lagSeconds: null, problem: 'not streaming (no WAL receiver)' }
  if (row.receiver_status === null) {
    return { role: 'replica', lagSeconds: null, problem: `WAL receiver not readable by ${user} (GRANT pg_monitor TO ${user})` }
  }
  if (row.receiver_status !== 'streaming') return { role: 'replica', lagSeconds: null, problem: `WAL receiver ${row.receiver_status}, not streaming` }
  if (row.lag_bytes === null) return { role: 'replica', lagSeconds: null, lagBytes: null }
  if (row.lag_bytes <= 0) return { role: 'replica', lagSeconds: 0, lagBytes: 0 }
  return { role: 'replica', lagSeconds: row.replay_age === null ? null : Math.max(0, row.replay_age), lagBytes: row.lag_bytes }
}

async function roleOf (client: PgClient, query: RoleQuery, user: string): Promise<FoundRole> {
  if (query.role === 'primary') {
    const { rows } = await client.query<{ in_recovery: unknown }>(PRIMARY_SQL)
    const inRecovery = rows[0]?.in_recovery
    if (typeof inRecovery !== 'boolean') throw new HC_ERR_ROLE_ANSWER('pg_is_in_recovery()')
    return { role: inRecovery ? 'replica' : 'primary' }
  }
  const { rows } = await client.query<ReplicaRow>(REPLICA_SQL)
  const row = rows[0]
  if (row === undefined) throw new HC_ERR_ROLE_ANSWER('the role query: no row')
  return replicaRole(row, user)
}

function loginMessage (user: string, database: string, params: ReadonlyMap<string, string>): string {
  const standby = params.get('in_hot_standby')
  const role = standby === 'on' ? 'role replica, ' : standby === 'off' ? 'role primary, ' : ''
  // `15.2 (Debian 15.2-1.pgdg120+1)`: the number is enough.
  const version = params.get('server_version')?.split(' ')[0]
  return clip(`${role}login ${user}@${database}${version === undefined ? '' : ` (PostgreSQL ${version})`}`)
}

function failure (err: unknown, phase: Phase, started: number, timedOut: boolean): CheckOutcome {
  const took = seconds(performance.now() - started)
  if (timedOut) {
    return down(phase === 'connect' ? `Connection timed out after ${took}s` : `PostgreSQL server did not answer within ${took}s`, failureStatus(phase, true))
  }
  if (isServerError(err)) return down(clip(`PostgreSQL sez ${err.severity} ${err.code}: ${err.message}`), 'L7STS')
  if (err instanceof LoginRefused) return down(err.message, 'L7STS')
  if (err instanceof TooMuchDataError || phase === 'protocol') {
    return down(clip(`Not a PostgreSQL answer: ${describeError(err)}`), 'L7RSP')
  }
  return down(`Unhandled exception ${describeError(err)}`, failureStatus(phase, false, errorCode(err)))
}

async function probe (target: CheckTarget, ctx: CheckContext, query: RoleQuery, user: string): Promise<CheckOutcome> {
  const started = performance.now()
  // Loaded on the first postgres check: hosts that never make one do not pay for pg.
  const { default: pg } = await import('pg')
  if (ctx.signal.aborted) return failure(null, 'connect', started, true) // the time went in loading pg
  const password = ctx.config.postgres_password
  const database = ctx.config.postgres_database
  let phase: Phase = 'connect'
  let asked: 'cleartext' | 'md5' | null = null
  // Our own socket: its phases are ours to see, and it is destroyed when the time is up.
  const socket = new Socket()
  socket.once('connect', () => { phase = 'protocol' })
  capReads(socket, MAX_READ_BYTES)
  const client = new pg.Client({
    host: target.address,
    port: target.port,
    user,
    database,
    // A function, so pg never falls back to PGPASSWORD or ~/.pgpass; called only when the
    // server asks for a password.
    password: () => {
      if (asked === 'cleartext') throw new LoginRefused('PostgreSQL server asked for the password in clear text: refused (hacheck logs in with trust or SCRAM-SHA-256)')
      if (asked === 'md5' && !ctx.config.postgres_allow_md5) {
        throw new LoginRefused('PostgreSQL server asked for an md5 password: refused, since its answer can be cracked offline (use SCRAM-SHA-256, or set postgres_allow_md5)')
      }
      if (password === null) throw new LoginRefused('PostgreSQL server asked for a password and postgres_password is not set')
      return password
    },
    ssl: false,
    stream: () => socket,
    // No other startup parameters (statement_timeout, ...): PgBouncer refuses ones it does not
    // know, and the probe's own time limit closes the connection anyway.
    application_name: 'hacheck'
  })
  const params = new Map<string, string>()
  client.connection.on('authenticationCleartextPassword', () => { asked = 'cleartext' })
  client.connection.on('authenticationMD5Password', () => { asked = 'md5' })
  // Registered before pg's own handler, which answers this message with the SCRAM proof: a
  // server asking for few iterations makes that proof cheap to crack offline, so the socket
  // is closed before the proof is written.
  let refused: LoginRefused | null = null
  client.connection.on('authenticationSASLContinue', (msg: { data?: string }) => {
    const iterations = Number(/(?:^|,)i=([0-9]{1,10})(?:,|$)/.exec(msg.data ?? '')?.[1] ?? 0)
    if (iterations < MIN_SCRAM_ITERATIONS) {
      refused = new LoginRefused(`PostgreSQL server asked for SCRAM with ${iterations} iterations: refused (at least ${MIN_SCRAM_ITERATIONS}, PostgreSQL's default)`)
      socket.destroy()
    }
  })
  client.connection.on('parameterStatus', (msg: { parameterName: string, parameterValue: string }) => {
    if (params.size < 64) params.set(msg.parameterName, msg.parameterValue)
  })
  client.on('error', () => {}) // errors after we answered (the server closing) must not crash
  const onAbort = (): void => { socket.destroy() }
  ctx.signal.addEventListener('abort', onAbort, { once: true })
  try {
    await client.connect()
    if (query.role === null) return up(loginMessage(user, database, params))
    return roleVerdict(query, await roleOf(client, query, user))
  } catch (err) {
    return failure(refused ?? err, phase, started, ctx.signal.aborted)
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    // Terminate politely; a server that does not close within a second is cut off.
    socket.setTimeout(1000, () => { socket.destroy() })
    client.end().catch(() => {})
  }
}

/** The `postgres` protocol (see the file's description). */
export const postgres: Checker = roleChecker({
  protocol: 'postgres',
  roles: POSTGRES_ROLES,
  login: (config) => config.postgres_username === null
    ? { refuse: down('No PostgreSQL username in config file', 'L7STS', 500) }
    : { secret: config.postgres_password !== null },
  probe: async (target, ctx, query) => await probe(target, ctx, query, ctx.config.postgres_username ?? '')
})
