/**
 * The check-target guard's deny list on the wire: hacheck runs inside a network namespace the
 * test makes (only `lo` inside) with `allowed_check_networks` allowing everything, and a client
 * inside asks it to probe each cloud metadata address through `X-Nerve-Check-IP`. Every one is
 * refused (403) before any connect; a control address outside the deny list shows what a guard
 * failure would look like there: a connect error (no route), never traffic to a real service.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { tempDir } from '../helper.js'
import { hacheckInside, makeNetns } from './netns.js'

const METADATA = [
  '169.254.169.254', '169.254.169.253', '169.254.169.123', '169.254.170.2', '169.254.170.23', '169.254.0.23',
  '100.100.100.200', '168.63.129.16', 'fd00:ec2::254', 'fd00:ec2::253', 'fd00:ec2::123', 'fd00:ec2::23',
  '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe'
]

test('metadata addresses are refused whatever allowed_check_networks says (inside an empty namespace)', async (t) => {
  const ns = await makeNetns(t)
  if (ns === null) return
  const dir = await tempDir(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, 'allowed_check_networks: [0.0.0.0/0, "::/0"]\ncache_time: 0\nhealthcheck_timeout: 2\n')
  const client = await hacheckInside(t, ns, config, join(dir, 'spool'))

  for (const address of METADATA) {
    for (const protocol of ['http', 'tcp']) {
      const answer = await client.get(`http://127.0.0.1:3333/${protocol}/meta/80/latest/meta-data/`, { 'X-Nerve-Check-IP': address })
      assert.match(answer, /^403 /, `${protocol} ${address}: ${answer}`)
      assert.match(answer, /a cloud metadata address, refused whatever allowed_check_networks says/, address)
    }
  }
  // The control: allowed, and no route inside the namespace, so the probe fails to connect.
  const control = await client.get('http://127.0.0.1:3333/tcp/meta/80/', { 'X-Nerve-Check-IP': '169.254.1.1' })
  assert.match(control, /^503 /, control)
  t.diagnostic(`control 169.254.1.1: ${control}`)
})
