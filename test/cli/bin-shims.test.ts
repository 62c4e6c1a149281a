/**
 * The commands in bin/ run before the build (or before `npm ci`) print one line saying what to
 * run, not Node's stack trace: a copy of bin/ without dist/, then with dist/ but no node_modules/.
 */
import assert from 'node:assert/strict'
import { cp, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { ROOT, runCommand, tempDir } from '../helper.js'

const COMMANDS = ['haactivate', 'habudget', 'hacheck', 'hadown', 'hainactivate', 'halist', 'hashowdowned', 'hastatus', 'haup', 'haweight']

test('bin/ holds the nine commands and their loader', async () => {
  assert.deepEqual((await readdir(join(ROOT, 'bin'))).sort(), [...COMMANDS, 'load-built.js'].sort())
})

test('each command run before the build says, in one line, to run npm run build; before npm ci, to run npm ci', async (t) => {
  const dir = await tempDir(t)
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true })
  await cp(join(ROOT, 'package.json'), join(dir, 'package.json'))
  for (const command of COMMANDS) {
    const r = await runCommand(process.execPath, [join(dir, 'bin', command), 'web'])
    assert.equal(r.code, 1, command)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr, `${command}: hacheck is not built here: run npm run build in ${dir} (npm ci first in a fresh clone)\n`)
  }
  // Built, but the dependencies are missing (dist/ copied without node_modules/).
  await cp(join(ROOT, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true })
  for (const command of ['hacheck', 'hastatus']) {
    const r = await runCommand(process.execPath, [join(dir, 'bin', command)])
    assert.equal(r.code, 1, command)
    assert.match(r.stderr, new RegExp(`^${command}: a dependency is not installed \\([@a-z0-9/.-]+\\): run npm ci in ${dir.replaceAll('.', '\\.')}\\n$`))
  }
})
