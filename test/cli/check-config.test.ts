/**
 * `hacheck --check-config -c FILE` (docs/tools.md "Server command"): exit 0 and `config FILE OK`
 * for a file start-up would take (an unknown key is start-up's warning, printed, and still 0),
 * else start-up's one-line error and its exit code (2), and nothing is started or created.
 */
import assert from 'node:assert/strict'
import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runBin, tempDir } from '../helper.js'

async function check (dir: string, text: string | undefined): Promise<{ code: number | null, stdout: string, stderr: string, file: string }> {
  const file = join(dir, 'hacheck.yaml')
  if (text !== undefined) await writeFile(file, text)
  // Pointed at a spool root that must not be created: the check starts nothing.
  return { ...(await runBin('hacheck', ['--check-config', '-c', file, '--spool-root', join(dir, 'spool')])), file }
}

test('--check-config: a good file exits 0 with "config FILE OK"', async (t) => {
  const dir = await tempDir(t)
  const r = await check(dir, 'cache_time: 2\nagent_checks:\n  web: http/8080/health\n')
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `hacheck: config ${r.file} OK\n`, ''])
  await assert.rejects(access(join(dir, 'spool')), 'no spool root created')
})

test('--check-config: a typo\'d key is start-up\'s warning (with its line), and the file still passes', async (t) => {
  const dir = await tempDir(t)
  const r = await check(dir, 'cache_time: 2\ncache_tme: 3\n')
  assert.equal(r.code, 0)
  assert.equal(r.stdout, `hacheck: config ${r.file} OK\n`)
  assert.match(r.stderr, /^hacheck: warning: unknown config key 'cache_tme' in .*hacheck\.yaml, line 2 \(ignored\)\n$/)
})

test('--check-config: a wrong type exits 2 with start-up\'s one line naming key and line', async (t) => {
  const dir = await tempDir(t)
  const r = await check(dir, 'cache_time: soon\n')
  const start = await runBin('hacheck', ['-c', r.file, '-B', '127.0.0.1', '-p', '0', '--spool-root', join(dir, 'spool')])
  assert.equal(r.code, 2)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, /^hacheck: config error in .*hacheck\.yaml, line 1: key 'cache_time' must be [^\n]+\n$/)
  assert.deepEqual([start.code, start.stderr], [2, r.stderr], 'the same line and code as start-up')
})

test('--check-config: a missing file exits 2 naming it', async (t) => {
  const dir = await tempDir(t)
  const r = await check(dir, undefined)
  assert.equal(r.code, 2)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, /^hacheck: [^\n]*hacheck\.yaml[^\n]*(ENOENT|no such file|not found)[^\n]*\n$/i)
})

test('--check-config: a YAML syntax error exits 2 naming the line', async (t) => {
  const dir = await tempDir(t)
  const r = await check(dir, 'cache_time: [\n')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^hacheck: config file .*hacheck\.yaml, line \d+[^\n]*not valid YAML[^\n]*\n$/)
})
