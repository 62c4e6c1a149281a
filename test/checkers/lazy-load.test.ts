import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort, spawnHacheck, tempDir, waitFor } from '../helper.js'

// An idle hacheck must not load the database and gRPC clients: a host that only answers spool
// and tcp checks does not pay for them. Measured on the real bin/hacheck: a preloaded script
// prints the npm packages in the module cache, and the resident size, on SIGWINCH.

const PRELOAD = `
const Module = require('node:module')
process.on('SIGWINCH', () => {
  const names = new Set()
  for (const file of Object.keys(Module._cache)) {
    const m = /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(file)
    if (m) names.add(m[1])
  }
  process.stderr.write('PACKAGES ' + JSON.stringify({ rss: process.memoryUsage().rss, names: [...names].sort() }) + '\\n')
})
`

const HEAVY = ['pg', 'ioredis', '@grpc/grpc-js', 'mysql2']

test('lazy loading: an idle hacheck has not loaded pg, ioredis, grpc-js or mysql2; each loads on its first check', async (t) => {
  const dir = await tempDir(t, 'hacheck-lazy-')
  const preload = join(dir, 'preload.cjs')
  await writeFile(preload, PRELOAD)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, JSON.stringify({ postgres_username: 'hacheck', mysql_username: 'hacheck', healthcheck_timeout: 1 }))
  const port = await freePort()
  const hacheck = await spawnHacheck(t, ['-c', config, '--spool-root', join(dir, 'spool')], { ports: [port], env: { NODE_OPTIONS: `--require ${preload}` } })
  let asked = 0
  const packages = async (): Promise<{ rss: number, names: string[] }> => {
    const before = ++asked
    hacheck.child.kill('SIGWINCH')
    return await waitFor(async () => {
      const lines = hacheck.stderr().split('\n').filter((l) => l.startsWith('PACKAGES '))
      return lines.length >= before ? JSON.parse((lines[before - 1] as string).slice(9)) as { rss: number, names: string[] } : undefined
    }, 5000, 'the package list')
  }
  const closed = await freePort()
  for (const url of ['/spool/web/0/', `/tcp/web/${port}/`, '/status', '/recent', '/metrics']) await (await fetch(`http://127.0.0.1:${port}${url}`)).arrayBuffer()
  const idle = await packages()
  for (const name of HEAVY) assert.ok(!idle.names.includes(name), `${name} loaded by an idle hacheck: ${idle.names.join(', ')}`)
  t.diagnostic(`idle (spool and tcp checks answered): rss ${(idle.rss / 2 ** 20).toFixed(1)} MiB`)

  let previous = idle.rss
  for (const [protocol, name] of [['postgres', 'pg'], ['redis', 'ioredis'], ['grpc', '@grpc/grpc-js'], ['mysql', 'mysql2']] as const) {
    const res = await fetch(`http://127.0.0.1:${port}/${protocol}/db/${closed}/`).catch((err: Error) => { throw new Error(`${err.message}; stderr: ${hacheck.stderr()}`) })
    assert.equal(res.status, 503, `${protocol} against a closed port`)
    const after = await packages()
    assert.ok(after.names.includes(name), `${name} loaded after a ${protocol} check`)
    t.diagnostic(`after the first ${protocol} check: rss ${(after.rss / 2 ** 20).toFixed(1)} MiB (${((after.rss - previous) / 2 ** 20).toFixed(1)} MiB more)`)
    previous = after.rss
  }
})
