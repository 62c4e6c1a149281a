/**
 * The real client: HAProxy 2.6 checks three backends through the built `bin/hacheck`
 * (an HTTP service, a TCP service and the local MariaDB), and its stats socket must follow
 * every operator action and failure within 3 s: hadown/haup of one service and of `all`, the
 * service failing, hacheck killed, hacheck restarted. Each step reports how long it took.
 *
 * HAProxy 2.6 sends `x-haproxy-server-state` with the server line's own port, which hacheck
 * uses in place of the URL's: every server line's port equals the port in its check URL.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test, type TestContext } from 'node:test'
import { HANG_MS, runBin, START_MS } from '../helper.js'
import { httpUpstream, mysqlCheckUser, MYSQL, tcpUpstream } from '../upstreams.js'
import { startHacheckProcess } from './hacheck-process.js'
import { startHaproxy, type Haproxy, type StatRow } from './haproxy.js'

/**
 * Bound on a step, from the action (a tool run, or a restart that may take START_MS) to HAProxy
 * showing its effect: a bound for a step that never lands, not a timing (each step's seconds are
 * printed; about a second on an idle machine).
 */
const CONVERGE_MS = START_MS + HANG_MS

/** backend → what its server must look like. */
type Expectation = Record<string, (row: StatRow) => boolean>

const isUp = (row: StatRow): boolean => row.status === 'UP' && row.check_status === 'L7OK'
const isDown = (row: StatRow): boolean => row.status === 'DOWN'
const describe = (row: StatRow | undefined): string => row === undefined ? 'missing' : `${row.status} (${row.check_status}, ${row.last_chk ?? ''})`

/**
 * Polls `show stat` until every backend's single server meets its expectation.
 *
 * @returns seconds since `since`.
 * @throws when `CONVERGE_MS` after `since` they still do not, naming each server's state.
 */
async function converge (haproxy: Haproxy, want: Expectation, since: number): Promise<number> {
  for (;;) {
    const rows = await haproxy.stats()
    const row = (backend: string): StatRow | undefined => rows.find((r) => r.pxname === backend && r.svname !== 'BACKEND' && r.svname !== 'FRONTEND')
    if (Object.entries(want).every(([backend, ok]) => { const r = row(backend); return r !== undefined && ok(r) })) {
      return (performance.now() - since) / 1000
    }
    if (performance.now() - since > CONVERGE_MS) {
      const seen = Object.keys(want).map((b) => `${b}: ${describe(row(b))}`).join('; ')
      throw new Error(`did not converge within ${CONVERGE_MS} ms: ${seen}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('HAProxy follows hacheck: hadown/haup, hadown all, a failing service, hacheck killed and restarted', async (t: TestContext) => {
  let webStatus = 200
  const web = await httpUpstream(t, { '/health': (_req, res) => { res.writeHead(webStatus).end(webStatus === 200 ? 'ok' : 'broken') } })
  const cache = await tcpUpstream(t)
  const checkUser = await mysqlCheckUser(t)
  const hacheck = await startHacheckProcess(t, {
    config: { cache_time: 0.2, healthcheck_timeout: 1, mysql_username: checkUser.user, mysql_password: checkUser.password }
  })
  const backend = (name: string, url: string, port: number): string => [
    `backend ${name}`,
    `  option httpchk GET ${url}`,
    '  http-check send-state',
    `  server ${name}1 127.0.0.1:${port} check port ${hacheck.port} inter 200 fall 2 rise 2`
  ].join('\n')
  const haproxy = await startHaproxy(t, [
    backend('web', `/http/web/${web.port}/health`, web.port),
    backend('cache', `/tcp/cache/${cache.port}/`, cache.port),
    backend('db', `/mysql/db/${MYSQL.port}/`, MYSQL.port)
  ].join('\n'))
  const spool = ['--spool-root', hacheck.spoolRoot]
  const all = { web: isUp, cache: isUp, db: isUp }

  /** Runs `action`, then waits for `want`; records and reports the seconds both took. */
  const step = async (name: string, action: () => Promise<void>, want: Expectation): Promise<void> => {
    const since = performance.now()
    await action()
    const seconds = await converge(haproxy, want, since)
    t.diagnostic(`${name}: converged in ${seconds.toFixed(2)} s`)
  }
  const tool = (name: string, ...args: string[]) => async (): Promise<void> => {
    const r = await runBin(name, [...spool, ...args])
    assert.equal(r.code, 0, `${name} ${args.join(' ')}: ${r.stderr}`)
  }

  await step('initially every backend UP', async () => {}, all)
  await step('hadown web: web DOWN, the others stay UP', tool('hadown', '-r', 'e2e', 'web'),
    { web: (r) => isDown(r) && r.check_status === 'L7STS', cache: isUp, db: isUp })
  await step('haup web: web UP', tool('haup', 'web'), all)
  await step('hadown all: every backend DOWN', tool('hadown', '-r', 'e2e', 'all'), { web: isDown, cache: isDown, db: isDown })
  await step('haup all: every backend UP', tool('haup', 'all'), all)
  await step('web answers 500: web DOWN', async () => { webStatus = 500 }, { web: (r) => isDown(r) && r.check_status === 'L7STS', cache: isUp, db: isUp })
  await step('web answers 200 again: web UP', async () => { webStatus = 200 }, all)
  await step('hacheck killed (SIGKILL): every backend DOWN', async () => { await hacheck.kill('SIGKILL') },
    { web: isDown, cache: isDown, db: isDown })
  await step('hacheck restarted: every backend UP', async () => { await hacheck.restart() }, all)

  assert.ok((web.hits.get('/health') ?? 0) > 0, 'the web checks reached the service through hacheck')
})
