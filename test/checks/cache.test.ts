import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ResultCache, cacheKey } from '../../src/checks/cache.js'

function clock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1000
  return { now: () => t, advance: (ms) => { t += ms } }
}

test('the key is written out: protocol, host, port, service (when given), forwarded headers, query and query string', () => {
  const base = { protocol: 'http', host: '127.0.0.1', port: 80, query: 'health', queryString: 'a=1' }
  assert.equal(cacheKey(base), 'http|127.0.0.1|80|||health?a=1')
  assert.equal(cacheKey({ ...base, service: 'web' }), 'http|127.0.0.1|80|web||health?a=1')
  assert.equal(cacheKey({ ...base, headers: { x: 'a|b', host: 'web' } }), 'http|127.0.0.1|80||host:web,x:a%7Cb|health?a=1')
  assert.notEqual(cacheKey({ ...base, headers: { host: 'a' } }), cacheKey({ ...base, headers: { host: 'b' } }))
  assert.notEqual(cacheKey({ ...base, queryString: 'a=2' }), cacheKey(base))
  assert.notEqual(cacheKey({ ...base, query: 'health?a=1|web', queryString: '' }), cacheKey({ ...base, service: 'web' }))
})

test('a result is reused for the TTL, then probed again; counters follow', async () => {
  const perf = clock()
  const cache = new ResultCache<{ n: number }>({ ttlSeconds: 10, maxEntries: 100, perf })
  let probes = 0
  const probe = async (): Promise<{ n: number }> => ({ n: ++probes })
  assert.deepEqual(await cache.get('k', probe), { n: 1 })
  perf.advance(9000)
  assert.deepEqual(await cache.get('k', probe), { n: 1 })
  perf.advance(1001)
  assert.deepEqual(await cache.get('k', probe), { n: 2 })
  assert.deepEqual(cache.stats(), { gets: 3, hits: 1, misses: 2, sets: 2, expirations: 1 })
})

test('failures are cached like successes', async () => {
  const cache = new ResultCache<{ code: number }>({ ttlSeconds: 10, maxEntries: 100, perf: clock() })
  let probes = 0
  const probe = async (): Promise<{ code: number }> => { probes++; return { code: 503 } }
  await cache.get('k', probe)
  await cache.get('k', probe)
  assert.equal(probes, 1)
})

test('concurrent misses on one key share one in-flight probe', async () => {
  const cache = new ResultCache<{ n: number }>({ ttlSeconds: 10, maxEntries: 100, perf: clock() })
  let probes = 0
  const probe = async (): Promise<{ n: number }> => { probes++; await new Promise((resolve) => setTimeout(resolve, 20)); return { n: probes } }
  const results = await Promise.all(Array.from({ length: 50 }, async () => await cache.get('k', probe)))
  assert.equal(probes, 1)
  assert.ok(results.every((r) => r.n === 1))
  assert.deepEqual(cache.stats(), { gets: 50, hits: 49, misses: 1, sets: 1, expirations: 0 })
})

test('noCache probes and stores, without touching what other requests see meanwhile', async () => {
  const cache = new ResultCache<{ n: number }>({ ttlSeconds: 10, maxEntries: 100, perf: clock() })
  let probes = 0
  const slow = async (): Promise<{ n: number }> => { const n = ++probes; await new Promise((resolve) => setTimeout(resolve, 30)); return { n } }
  await cache.get('k', slow)
  const forced = cache.get('k', slow, { noCache: true })
  const normal = await cache.get('k', slow)
  assert.equal(normal.n, 1, 'a concurrent normal request still gets the cached result')
  assert.equal((await forced).n, 2)
  assert.equal((await cache.get('k', slow)).n, 2, 'the fresh result is stored for later requests')
  assert.equal(probes, 2)
})

test('noCache with a probe in flight starts its own probe', async () => {
  const cache = new ResultCache<{ n: number }>({ ttlSeconds: 10, maxEntries: 100, perf: clock() })
  let probes = 0
  const slow = async (): Promise<{ n: number }> => { const n = ++probes; await new Promise((resolve) => setTimeout(resolve, 30)); return { n } }
  const [a, b] = await Promise.all([cache.get('k', slow), cache.get('k', slow, { noCache: true })])
  assert.deepEqual([a.n, b.n], [1, 2])
})

test('ttl 0 stores nothing but still shares a probe in flight', async () => {
  const cache = new ResultCache<{ n: number }>({ ttlSeconds: 0, maxEntries: 100 })
  let probes = 0
  const probe = async (): Promise<{ n: number }> => { probes++; await new Promise((resolve) => setTimeout(resolve, 10)); return { n: probes } }
  await Promise.all([cache.get('k', probe), cache.get('k', probe)])
  await cache.get('k', probe)
  assert.equal(probes, 2)
  assert.equal(cache.stats().sets, 0)
})

test('the entry count is bounded; the least recently used go first', async () => {
  const cache = new ResultCache<{ key: string }>({ ttlSeconds: 10, maxEntries: 2, perf: clock() })
  for (const key of ['a', 'b', 'c']) await cache.get(key, async () => ({ key }))
  assert.equal(cache.size, 2)
  let probed = false
  await cache.get('a', async () => { probed = true; return { key: 'a' } })
  assert.ok(probed, 'a was evicted')
})

test('a rejected probe is passed on, not cached, and does not block the key', async () => {
  const cache = new ResultCache<{ n: number }>({ ttlSeconds: 10, maxEntries: 10, perf: clock() })
  await assert.rejects(cache.get('k', async () => { throw new Error('boom') }), /boom/)
  assert.deepEqual(await cache.get('k', async () => ({ n: 1 })), { n: 1 })
})
