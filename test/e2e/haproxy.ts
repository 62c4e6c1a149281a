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
import { HANG_MS, tempDir, waitFor } from '../helper.js'

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
   * The `show servers state` row of one server (`srv_op_state`, `srv_admin_state`,
   * `srv_uweight`, ...; see {@link SRV_ADMF}).
   */
  serverState: (backend: string, server: string) => Promise<StatRow>
  /**
   * Polls `server` every 50 ms until `predicate` holds.
   *
   * @returns seconds it took (print it: the test's figure).
   * @throws after `timeoutMs`, never sooner than {@link HANG_MS} (a bound for what never happens,
   *   not a timing), naming the last row seen.
   */
  waitFor: (backend: string, server: string, predicate: (row: StatRow) => boolean, timeoutMs?: number) => Promise<number>
  /** Everything HAProxy printed so far. */
  output: () => string
}

/**
 * Bits of `srv_admin_state` in `show servers state` (HAProxy include/haproxy/server-t.h):
 * forced maintenance (CLI `disable server` or agent `maint`), forced drain (CLI or agent
 * `drain`), and the others HAProxy sets itself.
 */
export const SRV_ADMF = { FMAINT: 0x01, IMAINT: 0x02, CMAINT: 0x04, FDRAIN: 0x08, IDRAIN: 0x10, RMAINT: 0x20, HMAINT: 0x40 } as const

/** Parses `show servers state` (a version line, a `# be_id be_name ...` header, rows split by spaces). */
export function parseServersState (text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  const headerAt = lines.findIndex((l) => l.startsWith('# '))
  const header = lines[headerAt]?.replace(/^# /, '').split(' ') ?? []
  return lines.slice(headerAt + 1).map((line) => {
    const cells = line.split(' ')
    return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? '']))
  })
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
    '  timeout check 10s',
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
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) return false // exited: stop polling
      return (await send(socket, 'show info')).includes('Name: HAProxy') ? true : undefined
    }, 10000, 'haproxy to start')
  } catch {}
  if (child.exitCode !== null || !(await send(socket, 'show info').catch(() => '')).includes('Name: HAProxy')) {
    // The output is read now, not when the wait began, so a config error is shown.
    throw new Error(`haproxy did not start (exit ${String(child.exitCode)}): ${output}`)
  }

  const stats = async (): Promise<StatRow[]> => parseStat(await send(socket, 'show stat'))
  const server = async (backend: string, name: string): Promise<StatRow> => {
    const row = (await stats()).find((r) => r.pxname === backend && r.svname === name)
    if (row === undefined) throw new Error(`no server ${backend}/${name} in show stat`)
    return row
  }
  const serverState = async (backend: string, name: string): Promise<StatRow> => {
    const row = parseServersState(await send(socket, `show servers state ${backend}`)).find((r) => r.srv_name === name)
    if (row === undefined) throw new Error(`no server ${backend}/${name} in show servers state`)
    return row
  }
  return {
    socket,
    command: async (cmd) => await send(socket, cmd),
    stats,
    server,
    serverState,
    output: () => output,
    waitFor: async (backend, name, predicate, timeoutMs = HANG_MS) => {
      const started = Date.now()
      let last: StatRow | undefined
      const bound = Math.max(timeoutMs, HANG_MS)
      const deadline = started + bound
      for (;;) {
        last = await server(backend, name)
        if (predicate(last)) return (Date.now() - started) / 1000
        if (Date.now() > deadline) {
          throw new Error(`${backend}/${name} did not converge within ${bound} ms; last: status=${last.status} check_status=${last.check_status} weight=${last.weight} agent_status=${last.agent_status ?? ''}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
}
