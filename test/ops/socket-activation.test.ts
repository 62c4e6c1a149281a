import assert from 'node:assert/strict'
import { test } from 'node:test'
import { takeListenFds, workerListenFds, WORKER_SOCKETS_ENV } from '../../src/ops/socket-activation.js'

const env = (fields: Record<string, string>): Record<string, string | undefined> => ({ PATH: '/bin', ...fields })

test('takeListenFds: named sockets, from fd 3, and the variables removed', () => {
  const e = env({ LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'agent:http' })
  assert.deepEqual(takeListenFds(e, 42), { http: [4], agent: 3 })
  assert.deepEqual(e, { PATH: '/bin' }, 'no child inherits them')
})

test('takeListenFds: unnamed (systemd names them after the unit): the first is HTTP, the second the agent', () => {
  assert.deepEqual(takeListenFds(env({ LISTEN_PID: '7', LISTEN_FDS: '1' }), 7), { http: [3], agent: undefined })
  assert.deepEqual(takeListenFds(env({ LISTEN_PID: '7', LISTEN_FDS: '2', LISTEN_FDNAMES: 'hacheck.socket:hacheck.socket' }), 7), { http: [3], agent: 4 })
  assert.deepEqual(takeListenFds(env({ LISTEN_PID: '7', LISTEN_FDS: '3', LISTEN_FDNAMES: 'http:http:agent' }), 7), { http: [3, 4], agent: 5 })
})

test('takeListenFds: meant for another process, or none: undefined (bind as usual), and still removed', () => {
  const e = env({ LISTEN_PID: '41', LISTEN_FDS: '2' })
  assert.equal(takeListenFds(e, 42), undefined)
  assert.deepEqual(e, { PATH: '/bin' })
  assert.equal(takeListenFds(env({}), 42), undefined)
  assert.equal(takeListenFds(env({ LISTEN_PID: '42', LISTEN_FDS: '0' }), 42), undefined)
  assert.equal(takeListenFds(env({ LISTEN_PID: 'x42', LISTEN_FDS: '1' }), 42), undefined)
})

test('takeListenFds: a malformed or oversized set is a coded error, never a guess', () => {
  const bad = (fields: Record<string, string>, message: RegExp): void => {
    assert.throws(() => takeListenFds(env({ LISTEN_PID: '1', ...fields }), 1), (err: Error & { code?: string }) => err.code === 'HC_ERR_SOCKET_ACTIVATION' && message.test(err.message))
  }
  bad({ LISTEN_FDS: 'two' }, /LISTEN_FDS is not a count/)
  bad({ LISTEN_FDS: '17' }, /17 sockets passed, at most 16/)
  bad({ LISTEN_FDS: '2', LISTEN_FDNAMES: 'agent:agent' }, /two sockets are named agent/)
  bad({ LISTEN_FDS: '1', LISTEN_FDNAMES: 'agent' }, /no HTTP socket/)
  bad({ LISTEN_FDS: '3', LISTEN_FDNAMES: 'http:agent:extra' }, /1 socket\(s\) without a use/)
})

test('workerListenFds: reads what a primary wrote, refuses anything else', () => {
  assert.deepEqual(workerListenFds({ [WORKER_SOCKETS_ENV]: JSON.stringify({ http: [3], agent: 4 }) }), { http: [3], agent: 4 })
  assert.equal(workerListenFds({}), undefined)
  for (const text of ['{', '{"http":[]}', '{"http":[1]}', '{"http":[3],"agent":"4"}', '[]']) {
    assert.throws(() => workerListenFds({ [WORKER_SOCKETS_ENV]: text }), { code: 'HC_ERR_SOCKET_ACTIVATION' })
  }
})
