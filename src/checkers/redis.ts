/**
 * (ours) The `redis` protocol, through `ioredis` (RESP2, so any Redis-compatible server
 * answers): `AUTH` when `redis_password` is set (as `redis_username` when that is set too, for
 * Redis 6+ ACL users; only to `redis_credential_hosts`/`_ports`, see `roles.ts`), then:
 *
 * - `/redis/cache/6379/`: `PING` answers `PONG`.
 * - `/master`: `INFO replication` says `role:master`.
 * - `/replica`: `INFO replication` says `role:slave` and `master_link_status:up`;
 *   `?max_lag_seconds=N` fails a replica whose `master_last_io_seconds_ago` is above N. A
 *   master pings its replicas every `repl-ping-replica-period` (10 s by default), so on an idle
 *   master that figure climbs to 10 between pings: bound it above that period.
 *
 * Proves: the server accepts connections, authenticates the check user and answers commands
 * (and has the role asked for). Does not prove it accepts writes (a master past `maxmemory`, or
 * with `min-replicas-to-write` unmet, still answers), nor anything about keys. The check user
 * needs `+ping +info` (ACL: `user hacheck on >password +ping +info`).
 *
 * A fresh connection per probe, no retries, no offline queue: one probe, one answer.
 */
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Redis as RedisClient, RedisOptions } from 'ioredis'
import { roleChecker, roleVerdict, type FoundRole, type RoleSpec } from './roles.js'
import { capReads, TooMuchDataError } from './socket.js'
import { clip, describeError, errorCode, failureStatus, seconds, type Phase } from './status.js'
import { down, up, type Checker, type CheckContext, type CheckOutcome, type CheckTarget } from './types.js'
import { HC_ERR_ROLE_ANSWER } from '../errors.js'

/** The role queries of `redis` (Redis's own names for them). */
export const REDIS_ROLES: RoleSpec = {
  protocol: 'redis',
  roles: ['master', 'replica'],
  lagRole: 'replica',
  lagParams: ['max_lag_seconds'],
  otherQueries: 'reject'
}

/** Most bytes a probe reads: `INFO replication` is a few hundred bytes plus ~80 per replica. */
const MAX_READ_BYTES = 256 * 1024

/** `INFO` text (`key:value` lines, `# Section` headers) as a map. */
export function parseInfo (text: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0 || line.startsWith('#')) continue
    fields.set(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  return fields
}

/** What `INFO replication` says about the server. */
export function redisRole (info: ReadonlyMap<string, string>): FoundRole {
  const role = info.get('role')
  if (role === undefined) throw new HC_ERR_ROLE_ANSWER('INFO replication: no role field')
  if (role === 'master') {
    const replicas = info.get('connected_slaves')
    return { role: 'master', ...(replicas === undefined ? {} : { detail: `${replicas} connected replicas` }) }
  }
  if (role !== 'slave') return { role }
  const ago = Number(info.get('master_last_io_seconds_ago'))
  const link = info.get('master_link_status')
  if (link !== 'up') {
    const sync = info.get('master_sync_in_progress') === '1' ? ', sync in progress' : ''
    return { role: 'replica', lagSeconds: null, problem: `link to master ${link ?? 'unknown'}${sync}` }
  }
  return { role: 'replica', lagSeconds: Number.isFinite(ago) && ago >= 0 ? ago : null }
}

/** An error reply from the server (`-ERR ...`, `-WRONGPASS ...`, `-NOAUTH ...`). */
function isReplyError (err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError'
}

function failure (err: unknown, phase: Phase, started: number, timedOut: boolean): CheckOutcome {
  const took = seconds(performance.now() - started)
  if (timedOut) {
    return down(phase === 'connect' ? `Connection timed out after ${took}s` : `Redis server did not answer within ${took}s`, failureStatus(phase, true))
  }
  if (isReplyError(err)) return down(clip(`Redis sez ${err.message}`), 'L7STS')
  if (err instanceof TooMuchDataError || phase === 'protocol') return down(clip(`Not a Redis answer: ${describeError(err)}`), 'L7RSP')
  return down(`Unhandled exception ${describeError(err)}`, failureStatus(phase, false, errorCode(err)))
}

async function probe (target: CheckTarget, ctx: CheckContext, run: (redis: RedisClient) => Promise<CheckOutcome>): Promise<CheckOutcome> {
  const started = performance.now()
  // Loaded on the first redis check: hosts that never make one do not pay for ioredis.
  const { Redis } = await import('ioredis')
  if (ctx.signal.aborted) return failure(null, 'connect', started, true) // the time went in loading ioredis
  const { redis_username: username, redis_password: password } = ctx.config
  let phase: Phase = 'connect'
  let firstError: unknown
  const options: RedisOptions = {
    host: target.address,
    port: target.port,
    protocol: 2,
    lazyConnect: true,
    connectTimeout: ctx.timeoutMs,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    disableClientInfo: true,
    keepAlive: 0,
    disconnectTimeout: 1000
  }
  const redis = new Redis(options)
  // The first error is the telling one (ECONNREFUSED, WRONGPASS, a protocol error); the
  // rejections that follow only say the connection is closed.
  redis.on('error', (err: unknown) => { firstError ??= err })
  redis.once('connect', () => {
    phase = 'protocol'
    capReads(redis.stream as Socket, MAX_READ_BYTES)
  })
  // disconnect() alone waits up to `disconnectTimeout` for the peer to close: cut it off.
  const onAbort = (): void => {
    redis.disconnect()
    ;(redis.stream as Socket | undefined)?.destroy()
  }
  ctx.signal.addEventListener('abort', onAbort, { once: true })
  try {
    await redis.connect()
    // AUTH is ours to send, not ioredis's: it would take a refused AUTH (a server with no
    // password) as a warning on the console and go on; a check fails it instead. Sent with
    // the command, in one round trip; a failed AUTH is the first rejection.
    const auth = password === null ? null : username === null ? redis.auth(password) : redis.auth(username, password)
    const answer = run(redis)
    if (auth !== null) await Promise.all([auth, answer])
    return await answer
  } catch (err) {
    return failure(isReplyError(err) ? err : firstError ?? err, phase, started, ctx.signal.aborted)
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    redis.disconnect()
    // A peer that does not close its side is cut off a second later.
    ;(redis.stream as Socket | undefined)?.setTimeout(1000, () => { redis.stream.destroy() })
  }
}

/** The `redis` protocol (see the file's description). */
export const redis: Checker = roleChecker({
  protocol: 'redis',
  roles: REDIS_ROLES,
  login: (config) => ({ secret: config.redis_password !== null }),
  probe: async (target, ctx, query) => await probe(target, ctx, async (client): Promise<CheckOutcome> => {
    if (query.role === null) {
      const pong = await client.ping()
      return pong === 'PONG' ? up('PONG') : down(clip(`Unexpected reply to PING: ${String(pong)}`), 'L7RSP')
    }
    return roleVerdict(query, redisRole(parseInfo(await client.info('replication'))))
  })
})
