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
import { HANG_MS, tempSpool, untilSettled } from '../helper.js'
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
  // A read blocked on the FIFO would hold a thread-pool thread for good: with four of them held,
  // every later file read and name resolution would wait forever. So these fail only on a hang
  // (a generous bound), and print how long they took.
  const { value: replies, ms } = await untilSettled(async () => await Promise.all(Array.from({ length: 12 }, async () => await askAgent(agentPort, 'web\n', { timeoutMs: HANG_MS }))), '12 agent queries')
  t.diagnostic(`12 concurrent agent queries answered in ${ms.toFixed(0)} ms`)
  for (const reply of replies) assert.equal(reply, 'ready down #weight file @weight/web is not a regular file\n')
  assert.equal(await askAgent(agentPort, 'api\n', { timeoutMs: HANG_MS }), 'ready up\n')
  const post = await fetch(`${base}/spool/api/0/`, { method: 'POST', body: new URLSearchParams({ status: 'down', reason: 'x' }), signal: AbortSignal.timeout(HANG_MS) })
  assert.equal(post.status, 200)
  assert.equal((await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(HANG_MS) })).status, 200)
  const tcp = await tcpUpstream(t)
  const named = await fetch(`${base}/tcp/db/${tcp.port}/`, { headers: { 'x-nerve-check-ip': 'localhost' }, signal: AbortSignal.timeout(HANG_MS) })
  assert.equal(named.status, 200, 'a host name is still resolved (dns.lookup runs on the thread pool)')
})
