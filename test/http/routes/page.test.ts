import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import Fastify from 'fastify'
import { ServiceLog } from '../../../src/checks/service-log.js'
import { makeConfig } from '../../../src/config/index.js'
import { createRuntime } from '../../../src/http/app.js'
import { loadPageAssets, pageWeight } from '../../../src/http/page/assets.js'
import { MAX_ROWS, type PageSnapshot } from '../../../src/http/page/snapshot.js'
import pageRoutes, { PAGE_SECURITY_HEADERS } from '../../../src/http/routes/page.js'
import { SpoolWeights } from '../../../src/spool/weight.js'
import { buildTestApp, freePort, ROOT, tempSpool, untilSettled } from '../../helper.js'
import { httpUpstream } from '../../upstreams.js'

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

test('GET / is the page: HTML, the CSP and security headers, hashed same-origin assets, no inline script', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject('/')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  assert.equal(res.headers['content-security-policy'], CSP)
  assert.equal(res.headers['x-content-type-options'], 'nosniff')
  assert.equal(res.headers['referrer-policy'], 'no-referrer')
  assert.equal(res.headers['cache-control'], 'no-cache')
  const scripts = [...res.body.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)]
  assert.equal(scripts.length, 1)
  assert.match(scripts[0]?.[0] ?? '', /^<script type="module" src="\/page\/app\.js\?v=[0-9a-f]{16}"><\/script>$/)
  assert.equal(scripts[0]?.[1], '', 'no inline script')
  assert.match(res.body, /<link rel="stylesheet" href="\/page\/style\.css\?v=[0-9a-f]{16}">/)
  assert.doesNotMatch(res.body, /\s(on[a-z]+|style)=/i, 'no inline handlers or styles')
  assert.doesNotMatch(res.body, /(https?:)?\/\/(?!www\.w3\.org)/, 'nothing from another origin')
  assert.doesNotMatch(res.body, /\{\{/, 'every placeholder replaced')
  const head = await app.inject({ method: 'HEAD', url: '/' })
  assert.deepEqual([head.statusCode, head.body], [200, ''])
})

test('assets: immutable under their hashed URL, revalidated otherwise, 304 on a matching ETag, 404 for others', async (t) => {
  const { app } = await buildTestApp(t)
  const html = (await app.inject('/')).body
  const url = /src="(\/page\/app\.js\?v=([0-9a-f]+))"/.exec(html)
  assert.ok(url)
  let res = await app.inject(url[1] as string)
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8')
  assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable')
  assert.equal(res.headers.etag, `"${url[2] as string}"`)
  assert.equal(res.headers['content-security-policy'], CSP)
  res = await app.inject('/page/app.js')
  assert.equal(res.headers['cache-control'], 'no-cache')
  res = await app.inject({ url: '/page/style.css', headers: { 'if-none-match': (await app.inject('/page/style.css')).headers.etag as string } })
  assert.deepEqual([res.statusCode, res.body], [304, ''])
  for (const path of ['/page/index.html', '/page/..%2fsnapshot.js', '/page/app.ts', '/page/']) {
    assert.equal((await app.inject(path)).statusCode, 404, path)
  }
})

test('the page weighs under 100 KB and its files ship (npm package files, the Debian package and so the Docker image)', async () => {
  const assets = await loadPageAssets()
  const bytes = pageWeight(assets)
  assert.ok(bytes < 100 * 1024, `page weight ${bytes} bytes`)
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }
  assert.ok(pkg.files.includes('src/http/page/static'), 'package.json "files" lists the page folder')
  assert.match(await readFile(join(ROOT, 'packaging', 'build-deb.sh'), 'utf8'), /^cp -R src\/http\/page\/static "\$lib\/src\/http\/page\/static"$/m)
  assert.match(await readFile(join(ROOT, 'Dockerfile'), 'utf8'), /^RUN mkdir \/out && sh packaging\/build-deb\.sh \/out$/m, 'the image installs that package')
})

test('the page does not shadow or change the check and monitoring routes', async (t) => {
  const { app } = await buildTestApp(t)
  let res = await app.inject('/spool/web/0/')
  assert.deepEqual([res.statusCode, res.body, res.headers['content-type']], [200, '', 'text/html; charset=UTF-8'])
  assert.equal(res.headers['content-security-policy'], undefined)
  res = await app.inject('/spool/page/0/')
  assert.equal(res.statusCode, 200)
  res = await app.inject('/page/data/0/')
  assert.equal(res.statusCode, 404, 'an unknown protocol is still a 404')
  res = await app.inject('/status')
  assert.deepEqual(Object.keys(res.json()), ['cache', 'uptime', 'outbound_request_queue_size', 'outbound_slot_timeouts'])
  assert.equal(res.headers['content-security-policy'], undefined)
  assert.equal((await app.inject('/nope')).statusCode, 404)
})

test('/page/data: rows with the last answer, spool files, weights and latency; transitions; host; all as text', async (t) => {
  const up = await httpUpstream(t)
  const closed = await freePort()
  const { app, spool } = await buildTestApp(t, { cache_time: 0 })
  await app.inject(`/http/web/${up.port}/health`)
  await app.inject(`/http/api/${closed}/`)
  await app.inject(`/http/api/${closed}/`)
  const reason = '<img src=x onerror=alert(1)>'
  await spool.down({ service: 'web' }, { reason, expiration: 4000000000 })
  await spool.down({ service: 'web', port: 8080 }, { reason: 'one port', state: 'drain' })
  await spool.down({ service: 'spoolonly' }, { reason: 'never checked', state: 'maint' })
  await new SpoolWeights(spool).set({ service: 'web' }, 40)
  await new SpoolWeights(spool).set({ service: 'all' }, 60)

  const res = await app.inject('/page/data')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(res.headers['cache-control'], 'no-store')
  assert.equal(res.headers['content-security-policy'], CSP)
  const data = res.json() as PageSnapshot
  assert.deepEqual(data.services.map((s) => s.name), ['spoolonly', 'web', 'api'], 'spool-named first, then most recently asked')
  const [spoolonly, web, api] = data.services
  assert.deepEqual([spoolonly?.state, spoolonly?.last, spoolonly?.spool[0]?.source], ['maint', null, 'local'])
  assert.equal(web?.state, 'down')
  assert.deepEqual(web?.spool.map((e) => [e.file, e.state, e.reason, e.expiration]), [['web', 'down', reason, 4000000000], ['web:8080', 'drain', 'one port', null]])
  assert.deepEqual(web?.weight, { percent: 40, file: 'web' })
  assert.deepEqual([web?.last?.code, web?.last?.check_status], [200, 'L7OK'])
  assert.equal(web?.latency?.points.filter((p) => p !== null).length, 1)
  assert.deepEqual([api?.state, api?.last?.code, api?.last?.check_status], ['up', 503, 'L4CON'])
  assert.deepEqual(api?.latency?.failed, [59])
  assert.deepEqual(data.transitions.map((tr) => [tr.service, tr.from, tr.to, tr.result]), [['api', null, 'L4CON', 'failing']])
  assert.deepEqual(data.all, { spool: [], weight: { percent: 60, file: 'all' }, load: null })
  assert.deepEqual(data.actions, { enabled: false, token_required: false })
  assert.equal(data.host.spool_root, spool.root)
  assert.deepEqual(Object.keys(data.host.cache), ['gets', 'hits', 'misses', 'sets', 'expirations'])
  assert.equal(data.services_omitted, 0)
  assert.ok(res.body.includes(JSON.stringify(reason)), 'the reason is data, exactly as written')
})

test('/page/data: the all file applies to every row; a drain is weaker than a down', async (t) => {
  const { app, spool } = await buildTestApp(t, { allow_remote_spool_changes: true, remote_spool_token: 'x'.repeat(16) })
  await app.inject('/spool/web/0/')
  await app.inject('/spool/db/0/')
  await spool.down({ service: 'all' }, { reason: 'host drain', state: 'drain' })
  await spool.down({ service: 'db' }, { reason: 'disk', state: 'maint' })
  const data = (await app.inject('/page/data')).json() as PageSnapshot
  assert.deepEqual(data.services.map((s) => [s.name, s.state, s.spool.map((e) => e.file)]), [['db', 'maint', ['all', 'db']], ['web', 'drain', ['all']]])
  assert.deepEqual(data.all.spool.map((e) => e.reason), ['host drain'])
  assert.deepEqual(data.actions, { enabled: true, token_required: true })
})

test('/page/data: bounded rows whatever names clients invent', async (t) => {
  const serviceLog = new ServiceLog()
  for (let i = 0; i < MAX_ROWS + 100; i++) serviceLog.record(`svc${i}`, 200, '127.0.0.1')
  const { app } = await buildTestApp(t, {}, { serviceLog })
  const data = (await app.inject('/page/data')).json() as PageSnapshot
  assert.equal(data.services.length, MAX_ROWS)
  assert.equal(data.services_omitted, 100)
})

test('/page/events: a snapshot at once, then fresh ones, the first built after a spool change showing it; a stopping server ends it', async (t) => {
  const { app, spool } = await buildTestApp(t)
  await app.inject('/spool/web/0/')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const res = await fetch(`http://127.0.0.1:${port}/page/events`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  assert.equal(res.headers.get('content-security-policy'), PAGE_SECURITY_HEADERS['content-security-policy'])
  const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader()
  assert.ok(reader)
  let buffered = ''
  const nextEvent = async (): Promise<PageSnapshot> => {
    for (;;) {
      const match = /data: (.*)\n\n/.exec(buffered)
      if (match !== null) {
        buffered = buffered.slice((match.index) + match[0].length)
        return JSON.parse(match[1] as string) as PageSnapshot
      }
      const { value, done } = await reader.read()
      if (done === true) throw new Error('stream ended')
      buffered += value
    }
  }
  const first = await nextEvent()
  assert.equal(first.services[0]?.state, 'up')
  await spool.down({ service: 'web' }, { reason: 'live' })
  const changed = Date.now()
  let before = 0
  for (;;) {
    const event = await nextEvent()
    // `generated` is taken before the spool is read: a snapshot from after the change must show it.
    if (event.generated * 1000 < changed) { before++; continue }
    assert.equal(event.services[0]?.state, 'down', 'the first snapshot built after the change')
    break
  }
  t.diagnostic(`seen ${Date.now() - changed} ms after the change (${before} snapshot(s) built before it still arriving)`)
  // An open page never ends by itself: a stop that waited for it would never finish.
  const { ms } = await untilSettled(async () => { await app.close() }, 'the stop with a page open')
  t.diagnostic(`stopped in ${ms.toFixed(0)} ms with a page open`)
  assert.equal((await reader.read().catch(() => ({ done: true }))).done, true)
})

test('/page/events: past the stream limit a 503 (the page then polls /page/data); HEAD opens no stream', async (t) => {
  const config = makeConfig()
  const runtime = createRuntime(config, { spool: await tempSpool(t) })
  const app = Fastify()
  await app.register(pageRoutes, { config, ...runtime, maxStreams: 1 })
  t.after(async () => { await app.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const head = await fetch(`http://127.0.0.1:${port}/page/events`, { method: 'HEAD' })
  assert.deepEqual([head.status, head.headers.get('content-type')], [200, 'text/event-stream; charset=utf-8'])
  const controller = new AbortController()
  const first = await fetch(`http://127.0.0.1:${port}/page/events`, { signal: controller.signal })
  assert.equal(first.status, 200)
  const second = await fetch(`http://127.0.0.1:${port}/page/events`)
  assert.deepEqual([second.status, second.headers.get('retry-after'), await second.text()], [503, '5', 'too many open status pages'])
  assert.equal((await fetch(`http://127.0.0.1:${port}/page/data`)).status, 200)
  controller.abort()
})

test('/page/data: the fleet connection state appears when a fleet backend provides it', async (t) => {
  const config = makeConfig()
  const runtime = createRuntime(config, { spool: await tempSpool(t) })
  const app = Fastify()
  await app.register(pageRoutes, { config, ...runtime, fleet: () => ({ state: 'connected', endpoints: ['127.0.0.1:2379'] }) })
  t.after(async () => { await app.close() })
  assert.deepEqual((JSON.parse((await app.inject('/page/data')).body) as PageSnapshot).host.fleet, { state: 'connected', endpoints: ['127.0.0.1:2379'] })
  const { app: plain } = await buildTestApp(t)
  const host = (JSON.parse((await plain.inject('/page/data')).body) as PageSnapshot).host
  assert.equal('fleet' in host, false, 'no fleet configured: no fleet line')
})
