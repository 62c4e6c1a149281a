/**
 * A real HAProxy (Debian package `haproxy`, installed by `.ci/run`) for end-to-end tests: runs
 * in the foreground with a config of the test's backends, exposes its admin stats socket, and
 * is killed after the test.
 */
import { spawn } from 'node:child_process'
import { access, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { tempDir, waitFor } from '../helper.js'

/** Where Debian installs HAProxy. */
export const HAPROXY_BIN = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy'

/** One row of `show stat`, by CSV column name (`pxname`, `svname`, `status`, `weight`, `check_status`, ...). */
export type StatRow = Record<string, string>

/** A running HAProxy. */
export interface Haproxy {
  /** Path of the admin-level stats socket. */
  socket: string
  /** Sends one command to the stats socket and returns the whole answer. */
  command: (cmd: string) => Promise<string>
  /** `show stat` parsed. */
  stats: () => Promise<StatRow[]>
  /** The `show stat` row of one server. */
  server: (backend: string, server: string) => Promise<StatRow>
  /**
   * Polls `server` every 50 ms until `predicate` holds.
   *
   * @returns seconds it took.
   * @throws after `timeoutMs`, naming the last row seen.
   */
  waitFor: (backend: string, server: string, predicate: (row: StatRow) => boolean, timeoutMs?: number) => Promise<number>
  /** Everything HAProxy printed so far. */
  output: () => string
}

/** Parses `show stat` CSV (`# pxname,svname,...` header). */
export function parseStat (csv: string): StatRow[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '')
  const header = lines.shift()?.replace(/^# /, '').split(',') ?? []
  return lines.map((line) => {
    const cells = line.split(',')
    return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? '']))
  })
}

async function send (socket: string, cmd: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const conn = connect(socket)
    let out = ''
    conn.setEncoding('utf8')
    conn.on('data', (d: string) => { out += d })
    conn.on('error', reject)
    conn.on('end', () => { resolve(out) })
    conn.end(`${cmd}\n`)
  })
}

/**
 * Starts HAProxy with `sections` (backends, listeners) after a global/defaults preamble that
 * sets up the stats socket and short timeouts.
 *
 * @throws when HAProxy is not installed (run `.ci/run`, or `apt-get install haproxy`) or does not start.
 */
export async function startHaproxy (t: TestContext, sections: string): Promise<Haproxy> {
  try {
    await access(HAPROXY_BIN)
  } catch {
    throw new Error(`${HAPROXY_BIN} not found: install the Debian package haproxy (.ci/run does)`)
  }
  const dir = await tempDir(t, 'hacheck-haproxy-')
  const socket = join(dir, 'admin.sock')
  const config = [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    '  maxconn 256',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 5s',
    '  timeout server 5s',
    '  timeout check 2s',
    sections,
    ''
  ].join('\n')
  const file = join(dir, 'haproxy.cfg')
  await writeFile(file, config)
  const child = spawn(HAPROXY_BIN, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d })
  t.after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
  })
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${output}`)
    return (await send(socket, 'show info')).includes('Name: HAProxy') ? true : undefined
  }, 10000, `haproxy to start (${output})`)

  const stats = async (): Promise<StatRow[]> => parseStat(await send(socket, 'show stat'))
  const server = async (backend: string, name: string): Promise<StatRow> => {
    const row = (await stats()).find((r) => r.pxname === backend && r.svname === name)
    if (row === undefined) throw new Error(`no server ${backend}/${name} in show stat`)
    return row
  }
  return {
    socket,
    command: async (cmd) => await send(socket, cmd),
    stats,
    server,
    output: () => output,
    waitFor: async (backend, name, predicate, timeoutMs = 3000) => {
      const started = Date.now()
      let last: StatRow | undefined
      const deadline = started + timeoutMs
      for (;;) {
        last = await server(backend, name)
        if (predicate(last)) return (Date.now() - started) / 1000
        if (Date.now() > deadline) {
          throw new Error(`${backend}/${name} did not converge within ${timeoutMs} ms; last: status=${last.status} check_status=${last.check_status} weight=${last.weight} agent_status=${last.agent_status ?? ''}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
}
