/**
 * SIGTERM under keep-alive load (issue 10, item 12): every request a client had sent is
 * answered (with `Connection: close`), never reset; only new connections are refused.
 */
import assert from 'node:assert/strict'
import { Agent, get } from 'node:http'
import { test } from 'node:test'
import { freePort, HANG_MS, spawnHacheck, tempDir, waitFor } from '../helper.js'

test('SIGTERM under keep-alive load answers each connection\'s request, then closes: no resets', async (t) => {
  const port = await freePort()
  const hacheck = await spawnHacheck(t, ['--spool-root', await tempDir(t)], { ports: [port] })
  const agent = new Agent({ keepAlive: true, maxSockets: 20 })
  t.after(() => { agent.destroy() })
  let answered = 0
  const errors = new Map<string, number>()
  const flag = { stop: false }
  const one = async (): Promise<void> => await new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/spool/web/0/', agent }, (res) => {
      res.resume()
      res.on('end', () => { if (res.statusCode === 200) answered++; resolve() })
    })
    req.on('error', (err: NodeJS.ErrnoException) => { errors.set(err.code ?? err.message, (errors.get(err.code ?? err.message) ?? 0) + 1); resolve() })
  })
  // 20 clients in a loop (bounded: they stop 200 ms after the exit, or after 20,000 requests).
  const loops = Array.from({ length: 20 }, async () => { for (let i = 0; i < 1000 && !flag.stop; i++) await one() })
  // Under load: every client has had answers on its kept-alive connection.
  await waitFor(async () => answered >= 200 ? true : undefined, HANG_MS, 'answers before the signal')
  const before = answered
  hacheck.child.kill('SIGTERM')
  const exit = await hacheck.exited
  setTimeout(() => { flag.stop = true }, 200)
  await Promise.all(loops)
  t.diagnostic(`${before} answered before SIGTERM, ${answered - before} after; errors: ${JSON.stringify(Object.fromEntries(errors))}; exit ${String(exit)}`)
  assert.equal(exit, 0)
  assert.ok(before > 0)
  assert.equal(errors.get('ECONNRESET') ?? 0, 0, 'no request that was sent is reset')
  assert.deepEqual([...errors.keys()].filter((code) => code !== 'ECONNREFUSED'), [])
})
