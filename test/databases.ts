/**
 * Temporary database servers for role tests, each on a free loopback port with its own temp
 * directory, stopped and removed after the test (`t.after`): a PostgreSQL primary and a
 * streaming standby (initdb, pg_basebackup -R, pg_ctl), a MariaDB primary and replica
 * (mariadb-install-db, mariadbd), a Redis master and replica (redis-server --replicaof). The
 * shared servers on 5432, 3306 and 6379 are never changed.
 *
 * PostgreSQL refuses to run as root: when the tests run as root, its programs run as the
 * `postgres` OS user (`runuser -u postgres --`) in a directory that user owns. Every wait is
 * bounded. PostgreSQL binaries: `$HACHECK_PG_BIN`, else the newest /usr/lib/postgresql/N/bin.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chown, cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { createConnection, type Connection as MysqlConnection } from 'mysql2/promise'
import pg from 'pg'
import { freePort, waitFor } from './helper.js'

const run = promisify(execFile)
const isRoot = process.getuid?.() === 0
/** Longest a server may take to start, or a setup step to finish. */
const START_MS = 30_000

/** The directory of PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup). */
export async function pgBin (): Promise<string> {
  if (process.env.HACHECK_PG_BIN !== undefined) return process.env.HACHECK_PG_BIN
  const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^[0-9]+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  if (versions[0] === undefined) throw new Error('no PostgreSQL in /usr/lib/postgresql: install postgresql (.ci/run does)')
  return `/usr/lib/postgresql/${versions[0]}/bin`
}

/** Runs a PostgreSQL program, as the postgres user when we are root. */
async function pgRun (program: string, args: string[]): Promise<string> {
  const bin = join(await pgBin(), program)
  const [cmd, ...rest] = isRoot ? ['runuser', '-u', 'postgres', '--', bin, ...args] : [bin, ...args]
  try {
    const { stdout } = await run(cmd as string, rest, { timeout: START_MS })
    return stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`${program} ${args.join(' ')} failed: ${e.stderr ?? e.message}`)
  }
}

/** A temp directory removed after the test; owned by the postgres user when `forPostgres` and root. */
async function tempDir (t: TestContext, prefix: string, forPostgres = false): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  if (forPostgres && isRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: gid } = await run('id', ['-g', 'postgres'])
    await chown(dir, Number(stdout.trim()), Number(gid.trim()))
  }
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A temporary PostgreSQL server. */
export interface PgServer {
  port: number
  /** Runs one statement as the superuser `postgres` (trusted on 127.0.0.1). */
  sql: <R extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>
  /** `pg_ctl promote` (a standby becomes a primary), waiting until it is out of recovery. */
  promote: () => Promise<void>
  /** `pg_ctl stop -m immediate`. */
  stop: () => Promise<void>
}

/**
 * Authentication of the temporary primary (copied to its standbys): `postgres` trusted,
 * members of `cleartext_users` asked for a cleartext password, everyone else md5 (which
 * PostgreSQL runs as SCRAM-SHA-256 for users whose password is stored that way).
 */
const PG_HBA = [
  'local all all trust',
  'host replication postgres 127.0.0.1/32 trust',
  'host all postgres 127.0.0.1/32 trust',
  'host all +cleartext_users 127.0.0.1/32 password',
  'host all all 127.0.0.1/32 md5',
  ''
].join('\n')

async function pgStart (t: TestContext, data: string, dir: string): Promise<PgServer> {
  const port = await freePort()
  const options = [
    `-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c synchronous_commit=off',
    '-c full_page_writes=off', '-c shared_buffers=16MB', '-c max_connections=30', '-c max_wal_senders=4',
    '-c wal_level=replica', '-c hot_standby=on', '-c wal_receiver_status_interval=1s', '-c log_min_messages=warning'
  ].join(' ')
  await pgRun('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', options, 'start'])
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => {})
  }
  t.after(stop)
  const sql = async <R extends Record<string, unknown>>(text: string, values: unknown[] = []): Promise<R[]> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', password: '' })
    await client.connect()
    try {
      return (await client.query<R>(text, values)).rows
    } finally {
      await client.end()
    }
  }
  const promote = async (): Promise<void> => {
    await pgRun('pg_ctl', ['-D', data, '-w', '-t', '30', 'promote'])
    await waitFor(async () => (await sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false ? true : undefined, START_MS, 'promotion')
  }
  return { port, sql, promote, stop }
}

/** Starts a fresh PostgreSQL primary (initdb) on a free port, with {@link PG_HBA}. */
export async function startPostgres (t: TestContext): Promise<PgServer> {
  const dir = await tempDir(t, 'hacheck-pg-', true)
  const data = join(dir, 'data')
  await pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-N', '--no-instructions'])
  await writeFile(join(data, 'pg_hba.conf'), PG_HBA)
  return await pgStart(t, data, dir)
}

/**
 * Starts a streaming standby of `primary` on a free port (pg_basebackup -R), and waits until
 * its WAL receiver streams.
 */
export async function startPgStandby (t: TestContext, primary: PgServer): Promise<PgServer> {
  const dir = await tempDir(t, 'hacheck-pg-standby-', true)
  const data = join(dir, 'data')
  await pgRun('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', data, '-R', '-X', 'stream', '-c', 'fast'])
  const standby = await pgStart(t, data, dir)
  await waitFor(async () => (await standby.sql<{ status: string }>('SELECT status FROM pg_stat_wal_receiver'))[0]?.status === 'streaming' ? true : undefined,
    START_MS, 'the standby to stream')
  return standby
}

/** A child process killed (SIGKILL) after the test, and waited for. */
function killAfter (t: TestContext, child: ChildProcess): () => Promise<void> {
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
  t.after(kill)
  return kill
}

/** A temporary MariaDB server; `root` with an empty password on 127.0.0.1. */
export interface MariadbServer {
  port: number
  /** A root connection (closed after the test). */
  root: () => Promise<MysqlConnection>
}

/**
 * Starts a MariaDB primary and a replica of it (own temp datadirs, free ports, binary logs,
 * GTID replication as root, `read_only` ON on the replica), and waits until the replica's
 * threads run.
 */
export async function startMariadbPair (t: TestContext): Promise<{ primary: MariadbServer, replica: MariadbServer }> {
  const dir = await tempDir(t, 'hacheck-mariadb-')
  const seed = join(dir, 'seed')
  // Small InnoDB files: a 4 MB redo log instead of 96 MB makes install and start-up seconds faster.
  const small = ['--innodb-log-file-size=4M', '--innodb-buffer-pool-size=8M']
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${seed}`, '--auth-root-authentication-method=normal', '--skip-test-db',
    ...(isRoot ? ['--user=root'] : []), ...small], { timeout: START_MS })
  await cp(seed, join(dir, 'replica'), { recursive: true })
  const start = async (name: string, datadir: string, serverId: number): Promise<MariadbServer> => {
    const port = await freePort()
    const child = spawn('mariadbd', ['--no-defaults', ...(isRoot ? ['--user=root'] : []), `--datadir=${datadir}`, `--port=${port}`,
      '--bind-address=127.0.0.1', `--socket=${join(dir, `${name}.sock`)}`, `--pid-file=${join(dir, `${name}.pid`)}`,
      `--server-id=${serverId}`, '--log-bin=mysql-bin', '--skip-name-resolve', ...small,
      `--log-error=${join(dir, `${name}.err`)}`], { stdio: 'ignore' })
    killAfter(t, child)
    const connections: MysqlConnection[] = []
    t.after(async () => { for (const c of connections) c.destroy() })
    const root = async (): Promise<MysqlConnection> => {
      const conn = await createConnection({ host: '127.0.0.1', port, user: 'root', password: '' })
      connections.push(conn)
      return conn
    }
    await waitFor(async () => { (await root()).destroy(); return true }, START_MS, `mariadbd ${name} to start`)
    return { port, root }
  }
  const [primary, replica] = await Promise.all([start('primary', seed, 1), start('replica', join(dir, 'replica'), 2)])
  const conn = await replica.root()
  await conn.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`)
  await conn.query('START SLAVE')
  await conn.query('SET GLOBAL read_only = ON') // as replicas are run: only replication writes
  await waitFor(async () => {
    const [rows] = await conn.query('SHOW SLAVE STATUS')
    const row = (rows as Array<Record<string, unknown>>)[0]
    return row?.Slave_IO_Running === 'Yes' && row.Slave_SQL_Running === 'Yes' ? true : undefined
  }, START_MS, 'the MariaDB replica to run')
  return { primary, replica }
}

/** A temporary Redis server. */
export interface RedisServer {
  port: number
  /** A client without credentials (closed after the test). */
  admin: Redis
  /** Kills the server (SIGKILL). */
  kill: () => Promise<void>
}

/**
 * Starts redis-server on a free port with no persistence, plus `args`
 * (e.g. `['--replicaof', '127.0.0.1', '6380']`). Full syncs start at once (no diskless delay).
 * `adminPassword`: the `--requirepass` among `args`, for the admin client.
 */
export async function startRedis (t: TestContext, args: string[] = [], adminPassword?: string): Promise<RedisServer> {
  const dir = await tempDir(t, 'hacheck-redis-')
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--repl-diskless-sync-delay', '0', '--loglevel', 'warning', ...args], { stdio: 'ignore' })
  const kill = killAfter(t, child)
  const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 1, ...(adminPassword === undefined ? {} : { password: adminPassword }) })
  admin.on('error', () => {})
  t.after(() => { admin.disconnect() })
  await waitFor(async () => (await admin.ping()) === 'PONG' ? true : undefined, START_MS, 'redis-server to start')
  return { port, admin, kill }
}

/** Starts a Redis master and a replica of it, and waits until the replica's link is up. */
export async function startRedisPair (t: TestContext): Promise<{ master: RedisServer, replica: RedisServer }> {
  const master = await startRedis(t)
  const replica = await startRedis(t, ['--replicaof', '127.0.0.1', String(master.port)])
  await waitFor(async () => (await replica.admin.info('replication')).includes('master_link_status:up') ? true : undefined, START_MS, 'the Redis replica link')
  return { master, replica }
}
