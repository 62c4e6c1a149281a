/**
 * The `mysql` protocol: log in with `mysql_username`/`mysql_password`, then quit (COM_QUIT).
 *
 * Proves: the server accepts connections and authenticates the check user (so the server is
 * not out of connections and its grant tables answer). Does not prove any database or table
 * is usable: the check user needs no privileges at all
 * (`CREATE USER 'hacheck'@'127.0.0.1' IDENTIFIED BY '...'`). Works with
 * `mysql_native_password` and `caching_sha2_password` accounts (mysql2 speaks both).
 *
 * Messages as the reference (docs/http-api.md "Check routes"); unlike the reference, a closed port or a
 * silent server answers within `healthcheck_timeout`.
 *
 * (ours) `/mysql/<svc>/<port>/primary` and `/replica` (`?max_lag_seconds=N`) also ask the
 * logged-in server its role before quitting: see `mysql-roles.ts`. Any other query is a 404.
 */
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Connection } from 'mysql2'
import { MYSQL_ROLES, mysqlRole } from './mysql-roles.js'
import { roleChecker, roleVerdict, type RoleQuery } from './roles.js'
import { capReads, TooMuchDataError } from './socket.js'
import { describeError, errorCode, failureStatus, seconds, type Phase } from './status.js'
import { down, up, type Checker, type CheckContext, type CheckOutcome, type CheckTarget } from './types.js'

/** Most bytes a probe reads: a handshake and one status row take a few kilobytes. */
const MAX_READ_BYTES = 1024 * 1024

/** caching_sha2_password's request for the server's RSA key (full authentication). */
const REQUEST_SERVER_KEY = 0x02
const FULL_AUTH_REFUSED = 'MySQL server asked for the password (full authentication) over an unencrypted connection: refused'

/** Our refusal to hand the password over: an L7STS failure. */
class LoginRefused extends Error {}

interface MysqlError extends Error {
  code?: string
  errno?: number
  sqlMessage?: string
  fatal?: boolean
}

interface Handshake {
  serverVersion?: string
  connectionId?: number
}

/** The `mysql` protocol (see the file's description). */
export const mysql: Checker = roleChecker({
  protocol: 'mysql',
  roles: MYSQL_ROLES,
  login: (config) => config.mysql_username === null
    ? { refuse: down('No MySQL username/pasword in config file', 'L7STS', 500) } // (sic), as the reference
    : { secret: config.mysql_password !== null && config.mysql_password !== '' },
  probe: async (target, ctx, query) => await probe(target, ctx, query, ctx.config.mysql_username ?? '')
})

async function probe (target: CheckTarget, ctx: CheckContext, query: RoleQuery, user: string): Promise<CheckOutcome> {
  // Loaded on the first mysql check: most hosts never make one, and mysql2 adds about 7 MB
  // to the resident size of every process that imports it.
  const { createConnection, authPlugins } = await import('mysql2')
  const started = performance.now()
  let phase: Phase = 'connect'
  let conn: Connection | undefined
  try {
    return await new Promise<CheckOutcome>((resolve) => {
      const onAbort = (): void => {
        conn?.destroy()
        const took = seconds(performance.now() - started)
        resolve(down(phase === 'connect' ? `Connection timed out after ${took}s` : `MySQL server did not answer within ${took}s`, failureStatus(phase, true), 503))
      }
      if (ctx.signal.aborted) { onAbort(); return }
      ctx.signal.addEventListener('abort', onAbort, { once: true })
      conn = createConnection({
        host: target.address,
        port: target.port,
        user,
        password: ctx.config.mysql_password ?? undefined,
        connectTimeout: ctx.timeoutMs,
        authPlugins: {
          // Full authentication over plain TCP sends the password encrypted with a key the
          // server supplies: readable by whoever listens there. Refused; the scrambles of
          // caching_sha2 fast auth and mysql_native_password are what hacheck answers
          // (mysql2 already refuses mysql_clear_password).
          caching_sha2_password: (meta) => {
            const inner = authPlugins.caching_sha2_password({})(meta)
            return (data) => {
              const answer = inner(data)
              if (Buffer.isBuffer(answer) && answer.length === 1 && answer[0] === REQUEST_SERVER_KEY) throw new LoginRefused(FULL_AUTH_REFUSED)
              return answer
            }
          },
          sha256_password: () => () => { throw new LoginRefused(FULL_AUTH_REFUSED) }
        }
      })
      // TCP is up: from here a timeout is the server's silence, not the network's.
      const stream = (conn as Connection & { stream?: NodeJS.EventEmitter }).stream
      stream?.once('connect', () => { phase = 'protocol' })
      if (stream !== undefined && 'destroy' in stream) capReads(stream as Socket, MAX_READ_BYTES)
      conn.once('connect', (handshake: Handshake) => {
        const logged = conn as Connection
        const done = (outcome: CheckOutcome): void => {
          ctx.signal.removeEventListener('abort', onAbort)
          logged.end(() => {})
          resolve(outcome)
        }
        if (query.role === null) {
          const id = handshake.connectionId === undefined ? '' : ` (connection id ${handshake.connectionId})`
          done(up(`MySQL connect response: ${handshake.serverVersion ?? 'OK'}${id}`))
          return
        }
        mysqlRole(logged, query).then((found) => { done(roleVerdict(query, found)) }, (err: MysqlError) => { done(failure(err, phase, started)) })
      })
      conn.once('error', (err: MysqlError) => {
        ctx.signal.removeEventListener('abort', onAbort)
        conn?.destroy()
        resolve(failure(err, phase, started))
      })
    })
  } finally {
    conn?.removeAllListeners('error')
    conn?.on('error', () => {}) // late socket errors after we answered must not crash the server
  }
}

function failure (err: MysqlError, phase: Phase, started: number): CheckOutcome {
  const took = seconds(performance.now() - started)
  if (err.sqlMessage !== undefined && err.errno !== undefined) {
    // The server answered with an error packet (access denied, too many connections, ...).
    return down(`MySQL sez (${err.errno}, ${JSON.stringify(err.sqlMessage)})`, 'L7STS', 500)
  }
  if (err instanceof TooMuchDataError) return down(`Not a MySQL answer: ${err.message}`, 'L7RSP', 503)
  if (err instanceof LoginRefused || err.message === FULL_AUTH_REFUSED) return down(FULL_AUTH_REFUSED, 'L7STS', 503)
  const code = errorCode(err)
  if (code === 'ETIMEDOUT') return down(`Connection timed out after ${took}s`, failureStatus(phase, true), 503)
  return down(`Unhandled exception ${describeError(err)}`, failureStatus(phase, false, code), 503)
}
