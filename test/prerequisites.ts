/**
 * What the test suite needs from the machine (README "Tests" lists the same, with how
 * `.ci/run` provides each), and a one-line check for each. A missing prerequisite fails with
 * one line naming it and where to get it, never a bare `ECONNREFUSED`:
 * `test/prerequisites.test.ts` checks them all up front, and the helpers that first use one
 * (e.g. `mysqlCheckUser`) turn their connection error into the same line.
 */
import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { connect } from 'node:net'
import { createConnection } from 'mysql2/promise'
import pg from 'pg'

/** One prerequisite: its name as README states it, and how to check it. */
export interface Prerequisite {
  name: string
  /** How `.ci/run` provides it (or what to do). */
  provide: string
  /** Resolves `null` when usable, else why not (one line). */
  check: () => Promise<string | null>
}

/** An error whose whole report is its one-line message (no stack: the line says it all). */
export class MissingPrerequisite extends Error {
  constructor (p: Pick<Prerequisite, 'name' | 'provide'>, why: string) {
    super(`missing test prerequisite: ${p.name}: ${why} (${p.provide}; see README "Tests")`)
    this.name = 'MissingPrerequisite'
    this.stack = `${this.name}: ${this.message}`
  }
}

/** An error in one line: its message, with its code when the message lacks it. */
const why = (err: unknown): string => {
  const e = err as Partial<NodeJS.ErrnoException>
  const message = (typeof e.message === 'string' && e.message !== '' ? e.message : String(err)).split('\n')[0] as string
  return typeof e.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message
}

/** Runs `file args` (5 s bound); null when it exits 0. */
async function runs (file: string, args: readonly string[]): Promise<string | null> {
  return await new Promise((resolve) => {
    execFile(file, args, { timeout: 5000 }, (err) => { resolve(err === null ? null : `${file} ${args.join(' ')}: ${why(err)}`) })
  })
}

async function executable (path: string): Promise<string | null> {
  return await access(path, constants.X_OK).then(() => null, (err: unknown) => `${path}: ${why(err)}`)
}

/** MariaDB as the tests use it; also used by the helpers to name the failure. */
export const MARIADB: Prerequisite = {
  name: 'MariaDB on 127.0.0.1:3306 (user root, empty password, over TCP)',
  provide: '.ci/run installs and starts mariadb-server and sets that account when nothing answers on 3306',
  check: async () => {
    try {
      const conn = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '', connectTimeout: 5000 })
      await conn.end()
      return null
    } catch (err) {
      return why(err)
    }
  }
}

/** Every prerequisite of the suite, in the order README "Tests" lists them. */
export const PREREQUISITES: readonly Prerequisite[] = [
  MARIADB,
  {
    name: 'PostgreSQL on 127.0.0.1:5432 (trust for users root and postgres)',
    provide: '.ci/run installs and starts postgresql with trust on 127.0.0.1 when nothing answers on 5432',
    check: async () => {
      const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5000 })
      try {
        await client.connect()
        return null
      } catch (err) {
        return why(err)
      } finally {
        await client.end().catch(() => {})
      }
    }
  },
  {
    name: 'Redis on 127.0.0.1:6379 (no password)',
    provide: '.ci/run installs and starts redis-server when nothing answers on 6379',
    check: async () => await new Promise((resolve) => {
      const socket = connect(6379, '127.0.0.1')
      let reply = ''
      socket.setTimeout(5000, () => { socket.destroy(); resolve('no PONG within 5 s') })
      socket.on('data', (d) => { reply += String(d); if (reply.includes('\r\n')) { socket.destroy(); resolve(reply.startsWith('+PONG') ? null : `PING answered ${JSON.stringify(reply.trim())}`) } })
      socket.on('error', (err) => { resolve(why(err)) })
      socket.write('PING\r\n')
    })
  },
  {
    name: 'HAProxy (/usr/sbin/haproxy, or $HAPROXY_BIN)',
    provide: '.ci/run installs the Debian package haproxy',
    check: async () => await runs(process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy', ['-v'])
  },
  {
    name: 'etcd (etcd on PATH)',
    provide: '.ci/run installs the Debian package etcd-server',
    check: async () => await runs('etcd', ['--version'])
  },
  {
    name: 'chromium (/usr/bin/chromium)',
    provide: '.ci/run installs the Debian package chromium',
    check: async () => await executable('/usr/bin/chromium')
  },
  {
    name: 'openssl (on PATH)',
    provide: '.ci/run installs the Debian package openssl',
    check: async () => await runs('openssl', ['version'])
  },
  {
    name: 'promtool (on PATH), to check /metrics',
    provide: '.ci/run installs the Debian package prometheus',
    check: async () => await runs('promtool', ['--version'])
  },
  {
    name: 'curl (on PATH), for the README quick start',
    provide: '.ci/run installs the Debian package curl',
    check: async () => await runs('curl', ['--version'])
  }
]

/**
 * Wraps a helper's first use of a prerequisite: its error becomes a {@link MissingPrerequisite}.
 */
export async function needs<T> (p: Prerequisite, use: () => Promise<T>): Promise<T> {
  try {
    return await use()
  } catch (err) {
    throw new MissingPrerequisite(p, why(err))
  }
}
