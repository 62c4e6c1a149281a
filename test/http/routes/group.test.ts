/**
 * `/group/<name>/<port>/` against real peers: listening and closed TCP ports, a real HTTP
 * upstream, the MariaDB on 127.0.0.1:3306 and a real script.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { hasCode } from '../../../src/errors.js'
import { buildTestApp, freePort, runBin, tempDir } from '../../helper.js'
import { httpUpstream, mysqlCheckUser, MYSQL, tcpUpstream } from '../../upstreams.js'

/** A script that appends a line to `<dir>/runs` each time it runs, then exits `code`. */
async function countingScript (dir: string, code = 0): Promise<string> {
  const path = join(dir, 'zk.sh')
  await writeFile(path, `#!/bin/sh\necho run >> "$1/runs"\necho imok\nexit ${code}\n`, { mode: 0o755 })
  return path
}

async function runs (dir: string): Promise<number> {
  try {
    return (await readFile(join(dir, 'runs'), 'utf8')).split('\n').filter(Boolean).length
  } catch {
    return 0
  }
}

/** An app with group `web-stack`: a TCP port, an HTTP upstream, MariaDB and a script. */
async function stack (t: TestContext, opts: { extra?: string[], overrides?: Record<string, unknown>, slowMs?: number } = {}) {
  const tcp = await tcpUpstream(t)
  const web = await httpUpstream(t, {
    '/health': (_req, res) => { setTimeout(() => { res.end('ok') }, opts.slowMs ?? 0) }
  })
  const user = await mysqlCheckUser(t)
  const dir = await tempDir(t)
  const zk = await countingScript(dir)
  const members = [`tcp/${tcp.port}`, `http/${web.port}/health`, `mysql/${MYSQL.port}/`, 'script/zk', ...(opts.extra ?? [])]
  const built = await buildTestApp(t, {
    groups: { 'web-stack': members },
    scripts: { zk: { command: [zk, dir] } },
    mysql_username: user.user,
    mysql_password: user.password,
    ...opts.overrides
  })
  return { ...built, tcp, web, dir, members }
}

test('group: all members pass → 200, one line per member in config order', async (t) => {
  const { app, tcp, web } = await stack(t)
  const res = await app.inject('/group/web-stack/0/')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/plain; charset=UTF-8')
  assert.equal(res.headers['x-hacheck-status'], 'L7OK')
  const lines = res.body.trimEnd().split('\n')
  assert.equal(lines.length, 4)
  assert.match(lines[0] ?? '', new RegExp(`^tcp/${tcp.port} 200 Connected in [0-9]+\\.[0-9]{2}s$`))
  assert.equal(lines[1], `http/${web.port}/health 200 ok`)
  assert.match(lines[2] ?? '', new RegExp(`^mysql/${MYSQL.port}/ 200 MySQL connect response: `))
  assert.match(lines[3] ?? '', /^script\/zk 200 exit 0 in [0-9.]+s: imok$/)
  assert.equal((await app.inject('/group/web-stack/0')).statusCode, 200, 'the trailing slash is optional')
})

test('group: one closed port → 503 with that member named, X-Hacheck-Status its status', async (t) => {
  const closed = await freePort()
  const { app } = await stack(t, { extra: [`tcp/${closed}`] })
  const res = await app.inject('/group/web-stack/0/')
  assert.equal(res.statusCode, 503)
  assert.equal(res.headers['x-hacheck-status'], 'L4CON')
  const failing = res.body.split('\n').filter((line) => / (5[0-9][0-9]) /.test(line))
  assert.equal(failing.length, 1)
  assert.match(failing[0] ?? '', new RegExp(`^tcp/${closed} 503 Unexpected error \\[Errno 111\\] Connection refused`))
})

test('group: group_failure_code 504 answers as health-checker; the first failing member sets the status', async (t) => {
  const closed = await freePort()
  const { app } = await stack(t, { extra: [`http/${closed}/`, `tcp/${closed}`], overrides: { group_failure_code: 504 } })
  const res = await app.inject('/group/web-stack/0/')
  assert.equal(res.statusCode, 504)
  assert.equal(res.headers['x-hacheck-status'], 'L4CON')
})

test('group: Accept: application/json gives the members as JSON', async (t) => {
  const closed = await freePort()
  const { app } = await stack(t, { extra: [`tcp/${closed}`] })
  const res = await app.inject({ url: '/group/web-stack/0/', headers: { accept: 'application/json' } })
  assert.equal(res.statusCode, 503)
  assert.equal(res.headers['content-type'], 'application/json; charset=UTF-8')
  const body = res.json() as { group: string, code: number, check_status: string, message: string, members: Array<{ check: string, code: number, check_status: string, message: string }> }
  assert.equal(body.group, 'web-stack')
  assert.equal(body.code, 503)
  assert.equal(body.check_status, 'L4CON')
  assert.equal(body.message, `tcp/${closed} failed (L4CON)`)
  assert.deepEqual(body.members.map((m) => m.code), [200, 200, 200, 200, 503])
  assert.equal(body.members[3]?.check_status, 'PROCOK')
})

test('group: 200 concurrent requests on a cold group share one run: each member probed once', async (t) => {
  const { app, tcp, web, dir } = await stack(t, { slowMs: 500, overrides: { cache_time: 0 } })
  const answers = await Promise.all(Array.from({ length: 200 }, async () =>
    await app.inject({ url: '/group/web-stack/0/', headers: { accept: 'application/json' } })))
  assert.ok(answers.every((r) => r.statusCode === 200), answers.map((r) => r.statusCode).join(','))
  assert.equal(web.requests(), 1, 'http member probed once')
  assert.equal(tcp.connections(), 1, 'tcp member probed once')
  assert.equal(await runs(dir), 1, 'script member run once')
  // One shared run: every answer carries the very same run duration.
  const durations = new Set(answers.map((r) => (r.json() as { duration_ms: number }).duration_ms))
  assert.equal(durations.size, 1)
})

test('group: members share the cache with single checks; Pragma: no-cache probes afresh', async (t) => {
  // Forwarded headers are part of the cache key (issue 10, item 1): a member forwards none, so it
  // shares with a single check only when that one forwards none either (HAProxy 2.6's plain
  // `option httpchk` sends no Host; inject always does, so nothing is copied here).
  const { app, web, dir } = await stack(t, { overrides: { cache_time: 60, http_headers_to_copy: [] } })
  assert.equal((await app.inject(`/http/anything/${web.port}/health`)).statusCode, 200)
  assert.equal((await app.inject('/group/web-stack/0/')).statusCode, 200)
  assert.equal(web.requests(), 1, 'the group reused the single check’s cached result')
  assert.equal(await runs(dir), 1)
  assert.equal((await app.inject({ url: '/group/web-stack/0/', headers: { pragma: 'no-cache' } })).statusCode, 200)
  assert.equal(web.requests(), 2)
  assert.equal(await runs(dir), 2)
})

test('group: the spool gate runs first for the group name; down answers 503 without probing, drain 404', async (t) => {
  const { app, spool, web, dir } = await stack(t, { overrides: { cache_time: 0 } })
  await spool.down({ service: 'web-stack' }, { reason: 'deploy', creation: 1 })
  const down = await app.inject('/group/web-stack/0/')
  assert.equal(down.statusCode, 503)
  assert.equal(down.body, 'Service web-stack in down state since 1.000000: deploy\n')
  assert.equal(web.requests(), 0)
  assert.equal(await runs(dir), 0)
  await spool.up({ service: 'web-stack' })
  await spool.down({ service: 'web-stack', port: 8443 }, { reason: 'one port', creation: 1 })
  assert.equal((await app.inject('/group/web-stack/8443/')).statusCode, 503)
  assert.equal((await app.inject('/group/web-stack/0/')).statusCode, 200)
  await spool.down({ service: 'web-stack' }, { reason: 'draining', creation: 1, state: 'drain' })
  const drain = await app.inject('/group/web-stack/0/')
  assert.equal(drain.statusCode, 404)
  assert.equal(drain.headers['x-hacheck-status'], 'L7OKC')
  assert.match(drain.body, /^Service web-stack in drain state since 1\.000000: draining\ntcp\//)
})

test('group: unknown group 404, bad port 400, other methods 405; recorded in /recent and metrics', async (t) => {
  const { app } = await stack(t)
  assert.equal((await app.inject('/group/nope/0/')).statusCode, 404)
  assert.equal((await app.inject('/group/../0/')).statusCode, 404)
  assert.equal((await app.inject('/group/web-stack/x/')).statusCode, 404)
  assert.equal((await app.inject('/group/web-stack/0/more')).statusCode, 404)
  assert.equal((await app.inject('/group/web-stack/70000/')).statusCode, 400)
  assert.equal((await app.inject({ method: 'POST', url: '/group/web-stack/0/' })).statusCode, 405)
  const head = await app.inject({ method: 'HEAD', url: '/group/web-stack/0/' })
  assert.equal(head.statusCode, 200)
  assert.equal(head.body, '')
  const recent = (await app.inject('/recent')).json() as { seen_services: Array<[string, { code: number }]> }
  assert.deepEqual(recent.seen_services.map(([name, seen]) => [name, seen.code]), [['web-stack', 200]])
  assert.match((await app.inject('/metrics')).body, /hacheck_checks_total\{protocol="group",code="200",check_status="L7OK"\} 1/)
})

test('group: a member the check-target guard refuses fails closed', async (t) => {
  const tcp = await tcpUpstream(t)
  const { app } = await buildTestApp(t, { groups: { g: [`tcp/${tcp.port}`] }, allowed_check_networks: ['10.0.0.0/8'] })
  const res = await app.inject('/group/g/0/')
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^tcp\/[0-9]+ 403 check target 127\.0\.0\.1 is not allowed/)
  assert.equal(tcp.connections(), 0)
})

test('group: a member that does not parse stops start-up naming it (app and bin/hacheck, exit 2)', async (t) => {
  await assert.rejects(buildTestApp(t, { groups: { web: ['tcp/5432', 'tpc/8080'] } }),
    (err: unknown) => hasCode(err, 'HC_ERR_CONFIG') && /groups\.web\[1\] "tpc\/8080": unknown protocol 'tpc'/.test(err.message))
  const dir = await tempDir(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, 'groups:\n  web:\n    - tcp/5432\n    - script/zk\n')
  const port = await freePort()
  for (const procs of ['1', '2']) {
    const r = await runBin('hacheck', ['-c', config, '-B', '127.0.0.1', '-p', String(port), '-n', procs, '--spool-root', join(dir, 'spool')])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /groups\.web\[1\] "script\/zk": no script 'zk' under scripts/)
  }
})
