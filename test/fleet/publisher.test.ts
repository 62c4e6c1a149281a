/**
 * The status publisher against a real etcd (docs/fleet.md "Fleet status"): every record on one
 * lease, nothing written while nothing changes, a change written at once but never more than
 * one transaction a second, at most 128 operations per transaction, and `stop()` revoking the
 * lease so the records go at once.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Etcd3 } from 'etcd3'
import { makeConfig } from '../../src/config/index.js'
import { MAX_OPS_PER_TXN, StatusPublisher } from '../../src/fleet/publisher.js'
import type { StatusRecord } from '../../src/fleet/status.js'
import { startEtcd } from '../etcd.js'
import { waitFor } from '../helper.js'

const quiet = { debug: () => {}, info: () => {}, warn: () => {} }
const record = (state: StatusRecord['state']): StatusRecord => ({ state, code: state === 'up' ? 200 : 503, check_status: 'L7OK', reason: '', since: 1, weight: null, confirmed: 1 })

test('publisher: one lease, writes only on change, at most one transaction a second, batches of 128, stop revokes', async (t) => {
  const etcd = await startEtcd(t)
  const kv = new Etcd3({ hosts: [etcd.clientUrl] })
  t.after(() => { kv.close() })
  const settings = makeConfig({ fleet_etcd_endpoints: [etcd.clientUrl], fleet_host_name: 'pub01' }).fleet
  assert.ok(settings !== null)
  const records = new Map<string, StatusRecord>(Array.from({ length: 300 }, (_x, i) => [`svc${i}`, record('up')]))
  const txns: Array<{ at: number, put: number, removed: number }> = []
  const publisher = new StatusPublisher({ settings, ttlSeconds: 10, records: async () => new Map(records), log: quiet, onWrite: (put, removed, sentAtMs) => { txns.push({ at: sentAtMs, put, removed }) } })
  t.after(async () => { await publisher.stop() })
  await publisher.start()

  // 300 records: three transactions of at most 128, a second or more apart.
  await waitFor(async () => publisher.status().records === 300 ? true : undefined, 15000, 'every record published')
  assert.deepEqual(txns.map((w) => w.put), [MAX_OPS_PER_TXN, MAX_OPS_PER_TXN, 300 - 2 * MAX_OPS_PER_TXN])
  for (let i = 1; i < txns.length; i++) assert.ok((txns[i]?.at ?? 0) - (txns[i - 1]?.at ?? 0) >= 1000, 'a second between the transactions sent')
  const stored = await kv.getAll().prefix('/hacheck/status/').exec()
  assert.equal(stored.kvs.length, 300)
  assert.equal(new Set(stored.kvs.map((k) => k.lease)).size, 1, 'every record on one lease')
  assert.notEqual(stored.kvs[0]?.lease, '0')

  // Nothing changes: nothing is written, whatever the rounds.
  const before = txns.length
  await new Promise((resolve) => setTimeout(resolve, 2500))
  assert.equal(txns.length, before, 'steady: no writes')

  // One change, poked: written soon; ten more in a burst: at most one transaction a second.
  records.set('svc7', record('down'))
  publisher.poke()
  await waitFor(async () => JSON.parse(await kv.get('/hacheck/status/svc7/pub01').string() ?? '{}').state === 'down' ? true : undefined, 5000, 'svc7 down')
  const burstStart = txns.length
  for (let i = 0; i < 10; i++) {
    records.set(`svc${i}`, record(i % 2 === 0 ? 'failing' : 'drain'))
    publisher.poke()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await waitFor(async () => JSON.parse(await kv.get('/hacheck/status/svc9/pub01').string() ?? '{}').state === 'drain' ? true : undefined, 5000, 'the burst written')
  const burst = txns.slice(burstStart)
  t.diagnostic(`10 changes in 0.5 s: ${burst.length} transaction(s)`)
  for (let i = 1; i < txns.length; i++) assert.ok((txns[i]?.at ?? 0) - (txns[i - 1]?.at ?? 0) >= 1000, 'never two transactions within a second')
  records.delete('svc299')
  publisher.poke()
  await waitFor(async () => await kv.get('/hacheck/status/svc299/pub01').string() === null ? true : undefined, 5000, 'a record gone from the book is removed')

  // A clean stop revokes the lease: every record goes at once.
  await publisher.stop()
  assert.equal((await kv.getAll().prefix('/hacheck/status/').exec()).kvs.length, 0)
})
