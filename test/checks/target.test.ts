import assert from 'node:assert/strict'
import { test } from 'node:test'
import { localAddresses, parseServerState, resolveTarget } from '../../src/checks/target.js'
import { hasCode } from '../../src/errors.js'

const LOCAL = new Set(['127.0.0.1', '::1', '10.9.8.7'])
const STATE = 'UP 2/3; address=srv1; port=1234; name=bck/srv2; node=lb1; weight=1/2; scur=13/22; qcur=0'

test('X-Haproxy-Server-State: address= and port= replace host and URL port', () => {
  assert.deepEqual(parseServerState(STATE), { address: 'srv1', port: 1234 })
  assert.deepEqual(resolveTarget(80, { 'x-haproxy-server-state': STATE }, LOCAL), { host: 'srv1', port: 1234 })
})

test('a state header without address= or port= changes nothing', () => {
  assert.deepEqual(resolveTarget(80, { 'x-haproxy-server-state': 'UP 2/3; name=bck/srv2' }, LOCAL), { host: '127.0.0.1', port: 80 })
  assert.deepEqual(resolveTarget(80, { 'x-haproxy-server-state': 'garbage' }, LOCAL), { host: '127.0.0.1', port: 80 })
})

test('a state header port that is not 1-65535 is ignored', () => {
  assert.deepEqual(parseServerState('UP; port=0'), {})
  assert.deepEqual(parseServerState('UP; port=70000'), {})
  assert.deepEqual(parseServerState('UP; port=x'), {})
})

test('X-Nerve-Check-IP gives the host when the state header has no address', () => {
  assert.deepEqual(resolveTarget(80, { 'x-nerve-check-ip': '10.1.1.1' }, LOCAL), { host: '10.1.1.1', port: 80 })
  assert.deepEqual(resolveTarget(80, { 'x-nerve-check-ip': '10.1.1.1', 'x-haproxy-server-state': 'UP; port=81' }, LOCAL),
    { host: '10.1.1.1', port: 81 })
  assert.deepEqual(resolveTarget(80, { 'x-nerve-check-ip': '10.1.1.1', 'x-haproxy-server-state': 'UP; address=10.2.2.2' }, LOCAL),
    { host: '10.2.2.2', port: 80 }, 'the state header wins')
})

test('an address of this machine is checked as 127.0.0.1', () => {
  assert.deepEqual(resolveTarget(80, { 'x-nerve-check-ip': '10.9.8.7' }, LOCAL), { host: '127.0.0.1', port: 80 })
  assert.deepEqual(resolveTarget(80, { 'x-nerve-check-ip': '::ffff:10.9.8.7' }, LOCAL), { host: '127.0.0.1', port: 80 })
  assert.deepEqual(resolveTarget(80, { 'x-haproxy-server-state': 'UP; address=[::1]' }, LOCAL), { host: '127.0.0.1', port: 80 })
  assert.deepEqual(resolveTarget(80, { 'x-nerve-check-ip': '127.0.0.2' }, LOCAL), { host: '127.0.0.2', port: 80 },
    'only the interface addresses, not all of 127/8')
})

test('localAddresses includes the loopback interface', () => {
  const addrs = localAddresses()
  assert.ok(addrs.has('127.0.0.1'))
})

test('a header host that is not a host name or address is a 400', () => {
  for (const bad of ['a/b', '../etc', 'a b', 'x;y']) {
    assert.throws(() => resolveTarget(80, { 'x-nerve-check-ip': bad }, LOCAL),
      (err: Error & { statusCode?: number }) => err.statusCode === 400 && hasCode(err, 'HC_ERR_BAD_TARGET') && err.message === `invalid check target host ${JSON.stringify(bad)}`)
  }
})
