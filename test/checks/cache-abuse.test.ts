/**
 * The check cache against hostile clients (issue 10, item 2): bounded by bytes, purged of
 * expired entries, holding bodies compactly (a body that is not UTF-8 does not grow in memory).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeBody, MAX_BODY_BYTES } from '../../src/checkers/http-body.js'
import { ResultCache, stringBytes } from '../../src/checks/cache.js'
import { buildTestApp } from '../helper.js'
import { parsePrometheus, sampleValue } from '../prometheus.js'
import { httpUpstream } from '../upstreams.js'

test('the cache holds at most maxBytes: the least recently used go first', async () => {
  const cache = new ResultCache<{ message: string }>({ ttlSeconds: 60, maxEntries: 10000, maxBytes: 100 * 1024, sizeOf: (v) => stringBytes(v.message), perf: { now: () => 0 } })
  const body = 'b'.repeat(10 * 1024)
  for (let i = 0; i < 50; i++) await cache.get(`k${i}`, async () => ({ message: body }))
  assert.ok(cache.bytes <= 100 * 1024, `${cache.bytes} bytes`)
  assert.ok(cache.size >= 8 && cache.size < 10, `${cache.size} entries`)
  let probes = 0
  await cache.get('k49', async () => { probes++; return { message: body } })
  await cache.get('k0', async () => { probes++; return { message: body } })
  assert.equal(probes, 1, 'the newest is kept, the oldest was evicted')
})

test('expired entries are purged on a later miss, not kept until evicted', async () => {
  let clock = 1000 // lru-cache reads a start time of 0 as no TTL at all
  const cache = new ResultCache<{ message: string }>({ ttlSeconds: 10, maxEntries: 10000, maxBytes: 1024 * 1024, sizeOf: (v) => stringBytes(v.message), perf: { now: () => clock } })
  for (let i = 0; i < 20; i++) await cache.get(`old${i}`, async () => ({ message: 'x'.repeat(1000) }))
  const full = cache.bytes
  clock += 10_001
  await cache.get('new', async () => ({ message: 'y' }))
  assert.equal(cache.size, 1)
  assert.ok(cache.bytes < full / 10)
  assert.equal(cache.stats().expirations, 20)
})

test('stringBytes: one byte per Latin-1 character, two per character once one is beyond', () => {
  assert.equal(stringBytes('abc'), 3)
  assert.equal(stringBytes('café'), 4)
  assert.equal(stringBytes('ab\u20ac'), 6)
})

test('a body that is not UTF-8 takes no more memory than its bytes', () => {
  const binary = Buffer.alloc(MAX_BODY_BYTES, 0xff)
  const text = decodeBody(binary)
  assert.ok(stringBytes(text) <= MAX_BODY_BYTES, `${stringBytes(text)} bytes`)
  assert.equal(text, '\ufffd'.repeat(MAX_BODY_BYTES / 2), 'its first 32 KiB')
  const mixed = Buffer.concat([Buffer.from('\u{1F600}'), Buffer.alloc(MAX_BODY_BYTES * 2, 'a')])
  assert.ok(stringBytes(decodeBody(mixed)) <= MAX_BODY_BYTES)
  const ascii = decodeBody(Buffer.alloc(MAX_BODY_BYTES * 3, 'a'))
  assert.equal(ascii.length, MAX_BODY_BYTES, 'plain text keeps its 64 KiB')
  const cut = decodeBody(Buffer.concat([Buffer.alloc(MAX_BODY_BYTES - 1, 'a'), Buffer.from('é')]))
  assert.equal(cut, 'a'.repeat(MAX_BODY_BYTES - 1), 'a character cut by the limit is dropped, not replaced')
  assert.equal(stringBytes(cut), MAX_BODY_BYTES - 1)
})

test('distinct query strings against 64 KiB bodies that are not UTF-8 stay within cache_max_bytes', async (t) => {
  const binary = Buffer.alloc(64 * 1024, 0xfe)
  const up = await httpUpstream(t, { '/bin': (_req, res) => { res.end(binary) } })
  const maxBytes = 2 * 1024 * 1024
  const { app } = await buildTestApp(t, { cache_max_bytes: maxBytes })
  for (let i = 0; i < 300; i++) {
    const res = await app.inject(`/http/web/${up.port}/bin?i=${i}`)
    assert.equal(res.statusCode, 200)
  }
  const m = parsePrometheus((await app.inject('/metrics')).body)
  const bytes = sampleValue(m, 'hacheck_cache_bytes')
  const entries = sampleValue(m, 'hacheck_cache_entries')
  t.diagnostic(`after 300 distinct 64 KiB bodies: ${entries} entries, ${bytes} bytes`)
  assert.ok(bytes <= maxBytes && bytes > maxBytes / 2, `${bytes} bytes`)
  assert.ok(entries < 300)
})
