/**
 * The http_status route: `/status?SERVICE=...&PORT=...&VIP=...` with `http_status_root` set,
 * against a real temp root, the real spool and this machine's real interfaces.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildTestApp, tempDir } from '../../helper.js'

async function withRoot (t: TestContext, overrides: Record<string, unknown> = {}) {
  const root = await tempDir(t, 'hacheck-http-status-')
  const built = await buildTestApp(t, { http_status_root: root, ...overrides })
  return { ...built, root }
}

test('http_status: the presence file decides: SERVICE.PORT, SERVICE, status.html', async (t) => {
  const { app, root } = await withRoot(t)
  let res = await app.inject('/status?SERVICE=squid&PORT=80')
  assert.equal(res.statusCode, 404)
  assert.equal(res.headers['content-type'], 'text/plain; charset=UTF-8')
  assert.equal(res.body, 'Not Found - no presence file squid.80\n')
  await writeFile(join(root, 'squid.80'), '')
  res = await app.inject('/status?SERVICE=squid&PORT=80')
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, 'OK - squid.80 active\n')
  assert.equal((await app.inject('/status?PORT=80&SERVICE=squid')).statusCode, 200, 'parameter order does not matter')
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=81')).statusCode, 404)
  assert.equal((await app.inject('/status?SERVICE=squid')).statusCode, 404, 'squid alone is another file')
  await writeFile(join(root, 'squid'), '')
  assert.equal((await app.inject('/status?SERVICE=squid')).statusCode, 200)
  // No SERVICE: the host's status.html (with PORT, status.html.<port>, as the original appends).
  assert.equal((await app.inject('/status?VIP=127.0.0.1')).statusCode, 404)
  await writeFile(join(root, 'status.html'), '')
  assert.equal((await app.inject('/status?VIP=127.0.0.1')).statusCode, 200)
  assert.equal((await app.inject('/status?PORT=8001')).statusCode, 404)
  await writeFile(join(root, 'status.html.8001'), '')
  assert.equal((await app.inject('/status?PORT=8001')).statusCode, 200)
})

test('http_status: every VIP must be an address of a local interface', async (t) => {
  const { app, root } = await withRoot(t)
  await writeFile(join(root, 'haproxy'), '')
  let res = await app.inject('/status?SERVICE=haproxy&VIP=127.0.0.1')
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, 'OK - haproxy active, VIP 127.0.0.1 local\n')
  assert.equal((await app.inject('/status?SERVICE=haproxy&VIP=::1')).statusCode, 200)
  // 192.0.2.0/24 is TEST-NET-1: never configured on a real host.
  res = await app.inject('/status?SERVICE=haproxy&VIP=127.0.0.1,192.0.2.10')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, 'Not Found - VIP 192.0.2.10 is not an address of this host\n')
  assert.equal((await app.inject('/status?SERVICE=haproxy&VIP=127.0.0.1&VIP=192.0.2.10')).statusCode, 404, 'repeated VIP parameters all count')
  assert.equal((await app.inject('/status?SERVICE=missing&VIP=127.0.0.1')).statusCode, 404, 'a local VIP does not stand in for the file')
})

test('http_status: a hacheck down, drain or maint file for the same service answers 404 too', async (t) => {
  const { app, root, spool } = await withRoot(t)
  await writeFile(join(root, 'squid.80'), '')
  await writeFile(join(root, 'status.html'), '')
  await spool.down({ service: 'squid' }, { reason: 'kernel upgrade', creation: 1 })
  let res = await app.inject('/status?SERVICE=squid&PORT=80')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, 'Not Found - Service squid in down state since 1.000000: kernel upgrade\n')
  await spool.up({ service: 'squid' })
  await spool.down({ service: 'squid', port: 80 }, { reason: 'port', creation: 1, state: 'drain' })
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=80')).statusCode, 404)
  await spool.up({ service: 'squid', port: 80 })
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=80')).statusCode, 200)
  await spool.down({ service: 'all' }, { reason: 'host', creation: 1, state: 'maint' })
  assert.equal((await app.inject('/status?SERVICE=squid&PORT=80')).statusCode, 404)
  res = await app.inject('/status?VIP=127.0.0.1')
  assert.equal(res.statusCode, 404, 'all covers the host-level status.html')
  assert.match(res.body, /^Not Found - Service all in maint state/)
})

test('http_status: /status without SERVICE, PORT or VIP stays JSON; so does every /status when off', async (t) => {
  const { app } = await withRoot(t)
  for (const url of ['/status', '/status?service=squid', '/status?other=1']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200, url)
    assert.equal(res.headers['content-type'], 'application/json; charset=UTF-8', url)
  }
  const { app: off } = await buildTestApp(t)
  const res = await off.inject('/status?SERVICE=squid&PORT=80')
  assert.equal(res.statusCode, 200)
  assert.ok('cache' in (res.json() as object))
})

test('http_status: hostile input is a clean 400/404 and nothing is read outside the root', async (t) => {
  const { app, root } = await withRoot(t)
  const outside = await tempDir(t)
  await writeFile(join(outside, 'secret.80'), 'top secret')
  await mkdir(join(root, 'sub'))
  await writeFile(join(root, 'sub', 'x.80'), '')
  for (const url of [
    '/status?SERVICE=../secret&PORT=80',
    `/status?SERVICE=${encodeURIComponent(join(outside, 'secret'))}&PORT=80`,
    '/status?SERVICE=sub/x&PORT=80',
    '/status?SERVICE=..',
    '/status?SERVICE=.',
    '/status?SERVICE=',
    '/status?SERVICE=a%00b',
    '/status?SERVICE=squid&PORT=80x',
    '/status?SERVICE=squid&PORT=0',
    '/status?SERVICE=squid&PORT=65536',
    '/status?SERVICE=squid&VIP=not-an-address',
    '/status?SERVICE=squid&VIP=127.0.0.1,',
    '/status?SERVICE=squid&VIP=1.2.3.4/32',
    '/status?SERVICE=a&SERVICE=b',
    `/status?SERVICE=squid&VIP=${Array.from({ length: 33 }, () => '127.0.0.1').join(',')}`
  ]) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 400, url)
    assert.ok(!res.body.includes('top secret'), url)
    assert.ok(!res.body.includes('\n') || res.body.indexOf('\n') === res.body.length - 1, `one line: ${url}`)
  }
  // Presence files are hostile too: a symlink is not followed, a FIFO or directory is not a file.
  await symlink(join(outside, 'secret.80'), join(root, 'linked.80'))
  let res = await app.inject('/status?SERVICE=linked&PORT=80')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, 'Not Found - presence file linked.80 is a symlink (not followed)\n')
  execFileSync('mkfifo', [join(root, 'fifo.80')])
  res = await app.inject('/status?SERVICE=fifo&PORT=80')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, 'Not Found - presence file fifo.80 is not a regular file\n')
  await mkdir(join(root, 'dir.80'))
  assert.equal((await app.inject('/status?SERVICE=dir&PORT=80')).statusCode, 404)
  // A big presence file is never read.
  await writeFile(join(root, 'big.80'), Buffer.alloc(8 * 1024 * 1024))
  res = await app.inject('/status?SERVICE=big&PORT=80')
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, 'OK - big.80 active\n')
})

test('http_status: a huge query is refused before it reaches the route (431)', async (t) => {
  const { app } = await withRoot(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const res = await fetch(`http://127.0.0.1:${port}/status?SERVICE=squid&VIP=${'1'.repeat(20000)}`)
  assert.equal(res.status, 431)
  await res.arrayBuffer()
  const within = await fetch(`http://127.0.0.1:${port}/status?SERVICE=squid&VIP=${'1'.repeat(8000)}`)
  assert.equal(within.status, 400)
  assert.equal(await within.text(), `VIP "${'1'.repeat(64)}" is not an IP address`)
})

test('http_status: keepalived HTTP_GET request shape (HTTP/1.0, VIP list) gets its status_code', async (t) => {
  const { app, root } = await withRoot(t)
  await writeFile(join(root, 'haproxy'), '')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  // keepalived's check_http.c request: GET <path> HTTP/1.0, User-Agent, Host; it reads to EOF.
  const ask = async (path: string): Promise<string> => await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => { data += d })
    socket.on('end', () => { resolve(data) })
    socket.on('error', reject)
    socket.write(`GET ${path} HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
  })
  let raw = await ask('/status?SERVICE=haproxy&VIP=127.0.0.1,::1')
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/)
  assert.match(raw, /\r\n\r\nOK - haproxy active, VIP 127\.0\.0\.1,::1 local\n$/)
  raw = await ask('/status?SERVICE=haproxy&VIP=127.0.0.1,192.0.2.1')
  assert.match(raw, /^HTTP\/1\.1 404 Not Found\r\n/)
})
