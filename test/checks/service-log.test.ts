import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ServiceLog } from '../../src/checks/service-log.js'

test('recent lists services answered within the threshold, sorted', () => {
  let now = 1000
  const log = new ServiceLog({ nowSeconds: () => now })
  log.record('web', 200, '10.0.0.1')
  now = 1100
  log.record('api', 503, '10.0.0.2')
  log.record('db', 200, '10.0.0.2')
  assert.deepEqual(log.recent(600).map(([s]) => s), ['api', 'db', 'web'])
  assert.deepEqual(log.recent(50), [['api', { code: 503, remote_ip: '10.0.0.2', ts: 1100 }], ['db', { code: 200, remote_ip: '10.0.0.2', ts: 1100 }]])
})

test('access counts by service and client address', () => {
  const log = new ServiceLog()
  log.record('web', 200, 'a')
  log.record('web', 200, 'a')
  log.record('web', 503, 'b')
  assert.deepEqual(log.accessCounts().counts, { web: { a: 2, b: 1 } })
})

test('bounded: the oldest services and clients are forgotten past the limits', () => {
  const log = new ServiceLog({ maxServices: 2, maxClientsPerService: 2 })
  log.record('a', 200, 'x')
  log.record('b', 200, 'x')
  log.record('a', 200, 'x') // a is now the newest
  log.record('c', 200, 'x')
  assert.deepEqual(Object.keys(log.accessCounts().counts).sort(), ['a', 'c'])
  log.record('c', 200, 'y')
  log.record('c', 200, 'z')
  assert.deepEqual(log.accessCounts().counts.c, { y: 1, z: 1 })
})
