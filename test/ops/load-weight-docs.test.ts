/**
 * docs/operator-guide.md "Load weights": its worked example holds, its YAML is a valid config,
 * and its HAProxy backend passes HAProxy's own config check.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { agentWeight } from '../../src/agent/answer.js'
import { buildConfig, makeConfig } from '../../src/config/index.js'
import { LoadSampler } from '../../src/ops/load-weight.js'
import { HAPROXY_BIN } from '../e2e/haproxy.js'
import { ROOT, tempDir } from '../helper.js'
import { writePressure } from './pressure-fixtures.js'

async function section (): Promise<string> {
  const guide = await readFile(join(ROOT, 'docs', 'operator-guide.md'), 'utf8')
  const start = guide.indexOf('\n## Load weights (ours)\n')
  assert.ok(start >= 0, 'the section exists')
  return guide.slice(start, guide.indexOf('\n## ', start + 1))
}

const block = (text: string, lang: string): string => {
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(text)
  assert.ok(m?.[1] !== undefined, `a ${lang} block`)
  return m[1]
}

test('docs: the worked example of Load weights holds', async (t) => {
  const text = await section()
  const root = await tempDir(t, 'hacheck-pressure-')
  const config = makeConfig({ load_weight_sources: ['cpu', 'memory'], pressure_root: root })
  assert.ok(config.loadWeight !== null)
  const load = new LoadSampler({ settings: config.loadWeight })
  await writePressure(root, 'memory', 2.1)
  const steps: Array<[number, number]> = [[37.4, 63], [35, 63], [30, 70]]
  for (const [cpu, weight] of steps) {
    await writePressure(root, 'cpu', cpu)
    load.sample()
    assert.equal(load.weight('web'), weight, `cpu ${cpu}`)
  }
  assert.match(text, /`some avg10=37\.40`.*\n?.*`some avg10=2\.10`/)
  assert.match(text, /`ready up 63%`/)
  assert.equal(agentWeight(50, load.weight('web')), 50, 'haweight web 50 while the load weight is above it')
  await writePressure(root, 'cpu', 95)
  load.sample()
  assert.equal(load.weight('web'), 10, 'the floor')
  const doubled = makeConfig({ load_weight_sources: ['cpu'], pressure_root: root, load_weight_factor: 2 }).loadWeight
  assert.ok(doubled !== null)
  const k2 = new LoadSampler({ settings: doubled })
  for (const [cpu, weight] of [[20, 60], [45, 10]] as const) {
    await writePressure(root, 'cpu', cpu)
    k2.sample()
    assert.equal(k2.weight('web'), weight, `factor 2, cpu ${cpu}`)
  }
})

test('docs: the Load weights YAML is a valid config, and its HAProxy backend passes haproxy -c', async (t) => {
  const text = await section()
  const { config, warnings } = buildConfig(parse(block(text, 'yaml')), 'docs')
  assert.deepEqual(warnings, [])
  assert.deepEqual(config.loadWeight?.sources, ['cpu', 'memory', 'io'])
  assert.deepEqual([...config.loadWeight?.cgroups ?? []], [['web', '/sys/fs/cgroup/system.slice/web.service']])
  const dir = await tempDir(t)
  await mkdir(join(dir, 'cfg'))
  const file = join(dir, 'cfg', 'haproxy.cfg')
  // A frontend for the backend to serve (haproxy -c only checks; it binds nothing).
  await writeFile(file, `defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:8080\n  default_backend web\n${block(text, 'haproxy')}`)
  const { stdout, stderr } = await promisify(execFile)(HAPROXY_BIN, ['-c', '-f', file])
  t.diagnostic(`${HAPROXY_BIN} -c: ${(stdout + stderr).trim()}`)
})
