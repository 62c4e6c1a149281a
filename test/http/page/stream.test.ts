import assert from 'node:assert/strict'
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { PageStream } from '../../../src/http/page/stream.js'
import { waitFor } from '../../helper.js'

/** A real server whose every request becomes a stream of `stream`; answers 503 when it is full. */
async function serve (t: TestContext, stream: PageStream): Promise<number> {
  const server = createServer((_req, res: ServerResponse) => {
    if (stream.full) { res.writeHead(503).end(); return }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    stream.add(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    stream.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as AddressInfo).port
}

async function open (port: number): Promise<IncomingMessage> {
  return await new Promise((resolve, reject) => { request({ port, host: '127.0.0.1' }, resolve).on('error', reject).end() })
}

test('page stream: one build per interval shared by every page; nothing runs without pages', async (t) => {
  let builds = 0
  const stream = new PageStream({ build: async () => `{"n":${++builds}}`, intervalMs: 50 })
  const port = await serve(t, stream)
  const pages = await Promise.all([open(port), open(port), open(port)])
  const texts = pages.map(() => '')
  pages.forEach((res, i) => res.setEncoding('utf8').on('data', (d: string) => { texts[i] += d }))
  await waitFor(async () => texts.every((text) => (text.match(/^data: /gm) ?? []).length >= 4) ? true : undefined, 5000, 'four events each')
  const perPage = (texts[0]?.match(/^data: /gm) ?? []).length
  assert.ok(builds <= perPage + 2, `${builds} builds for ${perPage} events on each of 3 pages`)
  assert.match(texts[0] ?? '', /^retry: 1000\n\ndata: \{"n":\d+\}\n\n/)
  for (const res of pages) res.destroy()
  await waitFor(async () => stream.size === 0 ? true : undefined, 2000, 'streams gone')
  const after = builds
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(builds, after, 'no builds with no page open')
})

test('page stream: bounded in streams; a page that stops reading is dropped, not buffered', async (t) => {
  const big = JSON.stringify({ pad: 'x'.repeat(256 * 1024) })
  const stream = new PageStream({ build: async () => big, intervalMs: 10, maxClients: 2, maxBufferedBytes: 64 * 1024 })
  const port = await serve(t, stream)
  const reader = await open(port)
  reader.on('data', () => {})
  const stalled = await open(port)
  stalled.pause()
  assert.equal(stream.full, true)
  assert.equal((await open(port)).statusCode, 503)
  await waitFor(async () => stream.size === 1 ? true : undefined, 10000, 'the stalled page dropped')
  assert.equal(stream.full, false)
  reader.destroy()
  stalled.destroy()
})

test('page stream: one-shot snapshots within the interval reuse the last build', async () => {
  let builds = 0
  const stream = new PageStream({ build: async () => String(++builds), intervalMs: 100_000 })
  assert.deepEqual(await Promise.all([stream.snapshot(), stream.snapshot()]), ['1', '1'])
  assert.equal(await stream.snapshot(), '1')
  assert.equal(builds, 1)
  stream.close()
  assert.equal(stream.full, true, 'closed: no new streams')
})

test('page stream: a failed build is reported and the page keeps its stream', async (t) => {
  const errors: unknown[] = []
  const stream = new PageStream({ build: async () => { throw new Error('spool gone') }, intervalMs: 20, onError: (e) => errors.push(e) })
  const port = await serve(t, stream)
  const page = await open(port)
  let text = ''
  page.setEncoding('utf8').on('data', (d: string) => { text += d })
  await waitFor(async () => errors.length >= 2 ? true : undefined, 5000, 'errors reported')
  assert.equal(text, 'retry: 1000\n\n')
  assert.equal(stream.size, 1)
  page.destroy()
})
