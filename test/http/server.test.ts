/**
 * `startServer`'s `onAnswer` is registered before the port listens: the first answer a client
 * gets is noted (the fleet status publisher's answer book depends on it, docs/fleet.md
 * "Fleet status"; registered after the listen, an answer given at once was lost).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makeConfig } from '../../src/config/index.js'
import { startServer } from '../../src/http/server.js'
import { getFrom, tempSpool } from '../helper.js'

test('onAnswer is told the very first answer, given the moment the port listens', async (t) => {
  const noted: Array<[string, number]> = []
  const server = await startServer({
    config: makeConfig({}),
    spool: await tempSpool(t),
    ports: [0],
    bindAddress: '127.0.0.1',
    onAnswer: (service, result) => { noted.push([service, result.code]) }
  })
  t.after(async () => { await server.close() })
  const res = await getFrom('127.0.0.1', `http://127.0.0.1:${server.addresses[0]?.port ?? 0}/spool/web/0/`)
  assert.equal(res.status, 200)
  assert.deepEqual(noted, [['web', 200]])
})
