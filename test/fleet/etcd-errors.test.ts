/** etcd errors are printed in one line without the empty fields gRPC leaves in them. */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { cleanEtcdMessage } from '../../src/fleet/client.js'
import { freePort, runBin, tempDir } from '../helper.js'

test('gRPC messages lose their empty fields and repeated "Error: "', () => {
  assert.equal(cleanEtcdMessage('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: '),
    '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1')
  assert.equal(cleanEtcdMessage('14 UNAVAILABLE: No connection established. Last error: null. Resolution note: '), '14 UNAVAILABLE: No connection established')
  assert.equal(cleanEtcdMessage('4 DEADLINE_EXCEEDED: Deadline exceeded after 2.001s,LB pick: 0.001s,remote_addr=127.0.0.1:2379'),
    '4 DEADLINE_EXCEEDED: Deadline exceeded after 2.001s,LB pick: 0.001s,remote_addr=127.0.0.1:2379')
  assert.equal(cleanEtcdMessage('Authentication failed'), 'Authentication failed')
})

test('a tool whose etcd refuses connections prints one line with no empty field', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort() // nothing listens: ECONNREFUSED on loopback
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, `spool_root: ${join(dir, 'spool')}\nfleet_etcd_endpoints: ["http://127.0.0.1:${port}"]\n`)
  const r = await runBin('hadown', ['-c', config, '--fleet', '-r', 'x', 'web'])
  assert.equal(r.code, 1)
  assert.equal(r.stderr, `hadown: etcd at http://127.0.0.1:${port}: 14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:${port}: nothing was written\n`)
})
