import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { buildTestApp } from '../helper.js'
import { httpUpstream } from '../upstreams.js'
import { startHaproxy } from './haproxy.js'

test('HAProxy follows a spool check through hacheck (harness smoke test)', async (t) => {
  const web = await httpUpstream(t)
  const { app, spool } = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const hacheckPort = (app.server.address() as AddressInfo).port
  const haproxy = await startHaproxy(t, [
    'backend web',
    '  option httpchk GET /spool/web/0/',
    '  http-check send-state',
    `  server web1 127.0.0.1:${web.port} check port ${hacheckPort} inter 100 fall 1 rise 1`
  ].join('\n'))
  await haproxy.waitFor('web', 'web1', (row) => row.status === 'UP')
  await spool.down({ service: 'web' }, { reason: 'test' })
  await haproxy.waitFor('web', 'web1', (row) => row.status === 'DOWN')
  assert.equal((await haproxy.server('web', 'web1')).check_status, 'L7STS')
})
