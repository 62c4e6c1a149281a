/**
 * http_status VIP checks against real interface addresses: the test makes a network namespace
 * of its own (`ip netns`), adds a VIP to its `lo` as an LVS-DR real server holds it, runs the
 * built `bin/hacheck` inside it with `ip netns exec`, and asks from inside it too. Then it
 * moves the VIP away (a failover) and back. Skipped, with the reason, where network namespaces
 * cannot be made (no CAP_SYS_ADMIN, no iproute2).
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { performance } from 'node:perf_hooks'
import { bin, tempDir, waitFor } from '../helper.js'
import { hacheckInside, makeNetns, run } from './netns.js'

test('http_status: a VIP on lo inside a network namespace is local; moved away it is not', async (t) => {
  const ns = await makeNetns(t)
  if (ns === null) return
  const vip = '192.0.2.77'
  await run('ip', ['-n', ns, 'addr', 'add', `${vip}/32`, 'dev', 'lo'])

  const dir = await tempDir(t)
  const root = join(dir, 'http_status')
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, `http_status_root: ${root}\n`)
  const client = await hacheckInside(t, ns, config, join(dir, 'spool'))
  const getInside = async (_ns: string, url: string): Promise<string> => await client.get(url)
  const base = 'http://127.0.0.1:3333/status'

  const activate = await run(process.execPath, [bin('haactivate'), '--http-status-root', root, 'haproxy'])
  assert.equal(activate.stderr, '')
  assert.equal(await getInside(ns, `${base}?SERVICE=haproxy&VIP=${vip}`), `200 OK - haproxy active, VIP ${vip} local`)
  assert.equal(await getInside(ns, `${base}?SERVICE=haproxy&VIP=127.0.0.1,${vip}`), `200 OK - haproxy active, VIP 127.0.0.1,${vip} local`)
  assert.equal(await getInside(ns, `${base}?SERVICE=haproxy&VIP=192.0.2.78`), '404 Not Found - VIP 192.0.2.78 is not an address of this host')

  // Failover: the VIP leaves this real server; within a second the answer follows.
  await run('ip', ['-n', ns, 'addr', 'del', `${vip}/32`, 'dev', 'lo'])
  const movedAt = performance.now()
  const gone = await waitFor(async () => {
    const answer = await getInside(ns, `${base}?SERVICE=haproxy&VIP=${vip}`)
    return answer.startsWith('404') ? answer : undefined
  }, 3000, 'the VIP to stop counting as local')
  assert.equal(gone, `404 Not Found - VIP ${vip} is not an address of this host`)
  t.diagnostic(`VIP moved away: 404 after ${((performance.now() - movedAt) / 1000).toFixed(2)} s`)
  await run('ip', ['-n', ns, 'addr', 'add', `${vip}/32`, 'dev', 'lo'])
  await waitFor(async () => (await getInside(ns, `${base}?SERVICE=haproxy&VIP=${vip}`)).startsWith('200') ? true : undefined, 3000, 'the VIP to count again')

  await run(process.execPath, [bin('hainactivate'), '--http-status-root', root, 'haproxy'])
  assert.equal(await getInside(ns, `${base}?SERVICE=haproxy&VIP=${vip}`), '404 Not Found - no presence file haproxy')
})
