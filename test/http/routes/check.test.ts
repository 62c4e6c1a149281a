import assert from 'node:assert/strict'
import { readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp } from '../../helper.js'

const HTML = 'text/html; charset=UTF-8'

test('spool route: up is 200 with an empty text/html body, with or without the trailing slash', async (t) => {
  const { app } = await buildTestApp(t)
  for (const url of ['/spool/web/0/', '/spool/web/0', '/spool/web/0/anything/here?x=1']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200, url)
    assert.equal(res.body, '')
    assert.equal(res.headers['content-type'], HTML)
  }
})

test('spool route: down is 503 with the reference body', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web' }, { reason: 'maintenance', creation: 1700000000.25 })
  const res = await app.inject('/spool/web/0/')
  assert.equal(res.statusCode, 503)
  assert.equal(res.headers['content-type'], HTML)
  assert.equal(res.body, 'Service web in down state since 1700000000.250000: maintenance')
  await spool.down({ service: 'web' }, { reason: 'brb', creation: 1700000000, expiration: 4000000000 })
  assert.equal((await app.inject('/spool/web/0/')).body, 'Service web in down state since 1700000000.000000 until 4000000000.000000: brb')
})

test('all takes every service down and names itself', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'all' }, { reason: 'host maintenance', creation: 1 })
  const res = await app.inject('/spool/anything/1234/')
  assert.equal(res.statusCode, 503)
  assert.equal(res.body, 'Service all in down state since 1.000000: host maintenance')
})

test('service:port files apply to their port; port 0 checks the whole service only', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web', port: 8080 }, { reason: 'one port' })
  assert.equal((await app.inject('/spool/web/8080/')).statusCode, 503)
  assert.equal((await app.inject('/spool/web/8081/')).statusCode, 200)
  assert.equal((await app.inject('/spool/web/0/')).statusCode, 200)
})

test('the state header port and address select the spool file', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web', port: 8080 }, { reason: 'local port' })
  await spool.down({ service: 'web', port: 9090, host: '10.1.2.3' }, { reason: 'remote port' })
  let res = await app.inject({ url: '/spool/web/1/', headers: { 'X-Haproxy-Server-State': 'UP 2/3; port=8080; name=b/s' } })
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /local port/)
  res = await app.inject({ url: '/spool/web/9090/', headers: { 'x-haproxy-server-state': 'UP 2/3; address=10.1.2.3' } })
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /remote port/)
  res = await app.inject({ url: '/spool/web/9090/', headers: { 'x-nerve-check-ip': '10.1.2.3' } })
  assert.equal(res.statusCode, 503)
  res = await app.inject({ url: '/spool/web/9090/' })
  assert.equal(res.statusCode, 200, 'the remote host file does not apply to 127.0.0.1')
})

test('an address of this machine in a header is checked as 127.0.0.1', async (t) => {
  const { app, spool } = await buildTestApp(t, {}, { localAddresses: new Set(['127.0.0.1', '10.9.9.9']) })
  await spool.down({ service: 'web', port: 80 }, { reason: 'local' })
  const res = await app.inject({ url: '/spool/web/80/', headers: { 'x-nerve-check-ip': '10.9.9.9' } })
  assert.equal(res.statusCode, 503)
})

test('an expired spool file answers up and is removed on that read', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web' }, { reason: 'old', expiration: 1000 })
  assert.equal((await app.inject('/spool/web/0/')).statusCode, 200)
  assert.deepEqual(await readdir(spool.root), [])
})

test('HEAD answers like GET without a body', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'web' }, { reason: 'x' })
  const res = await app.inject({ method: 'HEAD', url: '/spool/web/0/' })
  assert.equal(res.statusCode, 503)
  assert.equal(res.body, '')
  assert.equal((await app.inject({ method: 'HEAD', url: '/spool/other/0/' })).statusCode, 200)
})

test('unknown protocol, bad service name, non-numeric port: 404', async (t) => {
  const { app } = await buildTestApp(t)
  // (`/` is no check route: it is the status page, test/http/routes/page.test.ts.)
  for (const url of [
    '/gopher/web/0/', '/spool/a%20b/0/', '/spool/web/x/', '/spool/web/-1/', '/spool/web/', '/spool/./0/',
    '/spool/../0/', '/spool/%2e%2e/0/', '/spool/a%2Fb/0/', '/spool/web/1.5/', '/spool'
  ]) {
    assert.equal((await app.inject(url)).statusCode, 404, url)
  }
})

test('a port outside 0-65535 is a clean 400', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject('/spool/web/70000/')
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /out of range/)
  assert.equal((await app.inject('/spool/web/99999999999999999999/')).statusCode, 400)
})

test('other methods on an existing route are 405; on no route, 404', async (t) => {
  const { app } = await buildTestApp(t)
  // POST on the spool route is a remote spool change (CONTRACT section 5, test/routes/remote-spool.test.ts).
  const post = await app.inject({ method: 'POST', url: '/spool/web/0/' })
  assert.deepEqual([post.statusCode, post.body], [403, 'remote spool changes are not enabled'])
  assert.equal((await app.inject({ method: 'POST', url: '/gopher/web/0/' })).statusCode, 404)
  for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
    const res = await app.inject({ method, url: '/spool/web/0/' })
    assert.equal(res.statusCode, 405, method)
    assert.equal(res.headers.allow, 'GET, HEAD')
    assert.equal((await app.inject({ method, url: '/gopher/web/0/' })).statusCode, 404, method)
  }
})

test('a path-traversal service name never touches a file outside the spool root', async (t) => {
  const { app, spool } = await buildTestApp(t)
  const outside = join(dirname(spool.root), `victim-${process.pid}`)
  await writeFile(outside, 'x')
  t.after(async () => { await rm(outside, { force: true }) })
  for (const name of ['..', '..%2F' + `victim-${process.pid}`, '%2E%2E%2Fvictim', 'a%2Fb', '..%5Cvictim', '%00']) {
    const res = await app.inject(`/spool/${name}/0/`)
    assert.equal(res.statusCode, 404, name)
  }
  assert.deepEqual(await readdir(spool.root), [])
})

test('every check is recorded for /recent and /status/count', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await spool.down({ service: 'db' }, { reason: 'x' })
  await app.inject('/spool/web/0/')
  await app.inject('/spool/web/0/')
  await app.inject('/spool/db/0/')
  const counts = (await app.inject('/status/count')).json()
  assert.deepEqual(counts.service_access_counts, { web: { '127.0.0.1': 2 }, db: { '127.0.0.1': 1 } })
  const recent = (await app.inject('/recent')).json()
  assert.deepEqual(recent.seen_services.map(([s, e]: [string, { code: number }]) => [s, e.code]), [['db', 503], ['web', 200]])
})
