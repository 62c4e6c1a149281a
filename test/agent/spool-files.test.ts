/**
 * A FIFO under `@weight/` (issue 10, item 4) once held a libuv thread-pool thread per read: five
 * agent queries then froze the agent, remote spool changes, `/metrics` and name resolution. Now
 * the weight is refused at once and everything else keeps working.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { makeConfig } from '../../src/config/index.js'
import { startServer } from '../../src/http/server.js'
import { WEIGHT_DIR } from '../../src/spool/weight.js'
import { tempSpool } from '../helper.js'
import { tcpUpstream } from '../upstreams.js'
import { askAgent } from './client.js'

test('a FIFO under @weight/: agent queries answer down at once; the thread pool stays free for everything else', async (t) => {
  const spool = await tempSpool(t)
  await mkdir(join(spool.root, WEIGHT_DIR))
  execFileSync('mkfifo', [join(spool.root, WEIGHT_DIR, 'web')])
  const server = await startServer({
    config: makeConfig({ allow_remote_spool_changes: true, cache_time: 0 }), spool, ports: [0], bindAddress: '127.0.0.1', agentPort: 0
  })
  t.after(async () => { await server.close() })
  const agentPort = server.agent?.address.port as number
  const base = `http://127.0.0.1:${server.addresses[0]?.port as number}`
  const started = Date.now()
  const replies = await Promise.all(Array.from({ length: 12 }, async () => await askAgent(agentPort, 'web\n', { timeoutMs: 3000 })))
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`)
  for (const reply of replies) assert.equal(reply, 'ready down #weight file @weight/web is not a regular file\n')
  assert.equal(await askAgent(agentPort, 'api\n', { timeoutMs: 2000 }), 'ready up\n')
  const post = await fetch(`${base}/spool/api/0/`, { method: 'POST', body: new URLSearchParams({ status: 'down', reason: 'x' }), signal: AbortSignal.timeout(2000) })
  assert.equal(post.status, 200)
  assert.equal((await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(2000) })).status, 200)
  const tcp = await tcpUpstream(t)
  const named = await fetch(`${base}/tcp/db/${tcp.port}/`, { headers: { 'x-nerve-check-ip': 'localhost' }, signal: AbortSignal.timeout(2000) })
  assert.equal(named.status, 200, 'a host name is still resolved (dns.lookup runs on the thread pool)')
})
