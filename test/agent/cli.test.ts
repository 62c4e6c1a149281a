import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseServerArgs } from '../../src/cli/hacheck.js'
import { hasCode } from '../../src/errors.js'
import { runBin, tempDir } from '../helper.js'

test('hacheck --agent-port parses a port; a bad one is a usage error', () => {
  assert.equal(parseServerArgs(['--agent-port', '3334']).agentPort, 3334)
  assert.equal(parseServerArgs([]).agentPort, undefined)
  for (const bad of ['x', '70000', '-1']) {
    assert.throws(() => parseServerArgs(['--agent-port', bad]), (err: Error) => hasCode(err, 'HC_ERR_USAGE'), bad)
  }
})

test('hacheck exits 2 naming the entry when agent_checks names an unknown protocol', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, 'agent_checks:\n  web: gopher/70/\n')
  const r = await runBin('hacheck', ['-c', config, '--spool-root', join(dir, 'spool'), '-B', '127.0.0.1', '-p', '0', '--agent-port', '0'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /agent_checks\.web "gopher\/70\/": unknown protocol 'gopher'/)
})
