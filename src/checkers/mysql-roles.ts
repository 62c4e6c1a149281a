/**
 * (ours) The role queries of the `mysql` protocol, asked on the checker's logged-in connection:
 *
 * - `/primary`: `read_only` is OFF (`SELECT @@global.read_only`; needs no privilege). The
 *   writer flag ProxySQL and Percona's clustercheck route by.
 * - `/replica`: `SHOW REPLICA STATUS` (MySQL 8.0.22+, MariaDB 10.5.1+; else `SHOW SLAVE
 *   STATUS`) has a row whose IO and SQL threads both run; `?max_lag_seconds=N` bounds
 *   `Seconds_Behind_Source` (`Seconds_Behind_Master`). Needs `REPLICATION CLIENT` (MySQL) or
 *   `SLAVE MONITOR` (MariaDB 10.5.9+).
 */
import type { Connection } from 'mysql2'
import type { FoundRole, RoleQuery, RoleSpec } from './roles.js'
import { HC_ERR_ROLE_ANSWER } from '../errors.js'

/** The role queries of `mysql`. */
export const MYSQL_ROLES: RoleSpec = {
  protocol: 'mysql',
  roles: ['primary', 'replica'],
  lagRole: 'replica',
  lagParams: ['max_lag_seconds'],
  otherQueries: 'login'
}

/** MySQL's ER_PARSE_ERROR: the server does not know `SHOW REPLICA STATUS`. */
const ER_PARSE_ERROR = 1064
/** Longest replication error passed into an answer. */
const MAX_ERROR = 200

type Row = Record<string, unknown>

async function rowsOf (conn: Connection, sql: string): Promise<Row[]> {
  return await new Promise((resolve, reject) => {
    conn.query(sql, (err, rows) => {
      if (err !== null) reject(err)
      else resolve(Array.isArray(rows) ? rows as Row[] : [])
    })
  })
}

/** The first of `names` present in `row` (MySQL 8.0.22 renamed Slave_* / *_Master columns). */
function field (row: Row, ...names: string[]): unknown {
  for (const name of names) if (row[name] !== undefined) return row[name]
  return undefined
}

/** What a replica status row (or none) says about the server. */
export function replicaStatusRole (row: Row | undefined): FoundRole {
  if (row === undefined) return { role: 'primary', detail: 'no replication configured' }
  const io = String(field(row, 'Replica_IO_Running', 'Slave_IO_Running') ?? 'unknown')
  const sql = String(field(row, 'Replica_SQL_Running', 'Slave_SQL_Running') ?? 'unknown')
  if (io !== 'Yes' || sql !== 'Yes') {
    const lastError = [row.Last_IO_Error, row.Last_SQL_Error].find((e): e is string => typeof e === 'string' && e !== '')
    const why = lastError === undefined ? '' : `: ${lastError.slice(0, MAX_ERROR)}`
    return { role: 'replica', lagSeconds: null, problem: `replication not running (IO thread ${io}, SQL thread ${sql})${why}` }
  }
  const lag = field(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master')
  const seconds = lag === null || lag === undefined ? null : Number(lag)
  return { role: 'replica', lagSeconds: seconds !== null && Number.isFinite(seconds) ? seconds : null }
}

/**
 * Asks a logged-in connection for its role.
 *
 * @throws the server's error (e.g. 1227, a missing privilege) or a connection error.
 */
export async function mysqlRole (conn: Connection, query: RoleQuery): Promise<FoundRole> {
  if (query.role === 'primary') {
    const [row] = await rowsOf(conn, 'SELECT @@global.read_only AS read_only')
    const readOnly = Number(row?.read_only)
    if (readOnly !== 0 && readOnly !== 1) throw new HC_ERR_ROLE_ANSWER('SELECT @@global.read_only')
    return readOnly === 0 ? { role: 'primary', detail: 'read_only OFF' } : { role: 'read-only', detail: 'read_only ON' }
  }
  let rows: Row[]
  try {
    rows = await rowsOf(conn, 'SHOW REPLICA STATUS')
  } catch (err) {
    if ((err as { errno?: number }).errno !== ER_PARSE_ERROR) throw err
    rows = await rowsOf(conn, 'SHOW SLAVE STATUS')
  }
  return replicaStatusRole(rows[0])
}
