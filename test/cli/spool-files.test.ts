/**
 * The spool tools meet the same hostile entries as the server (issue 10, items 3 and 9): a
 * FIFO, a symlink to a secret, a huge file; and names whose spool files cannot exist. Each tool
 * answers at once, fails closed and never prints a file it should not have read.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdir, readdir, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { bin, HANG_MS, tempDir, type RunResult } from '../helper.js'

/**
 * Runs a tool, killing it (and failing) if it has not exited within `ms`: a tool that blocked on
 * a FIFO would never exit, so `ms` is a generous bound ({@link HANG_MS}), not a timing.
 */
async function runWithin (ms: number, name: string, args: string[]): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${name} ${args.join(' ')} still running after ${ms} ms`)) }, ms)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

test('hastatus, hashowdowned and haweight with a FIFO, a symlink and a huge file: at once, down, nothing leaked', async (t) => {
  const root = await tempDir(t)
  const secret = join(await tempDir(t), 'secret')
  await writeFile(secret, 'SECRET-CONTENTS')
  execFileSync('mkfifo', [join(root, 'web')])
  await symlink(secret, join(root, 'api'))
  await writeFile(join(root, 'big'), 'x')
  await truncate(join(root, 'big'), 100 * 1024 * 1024)
  await mkdir(join(root, '@weight'))
  execFileSync('mkfifo', [join(root, '@weight', 'db')])

  const status = await runWithin(HANG_MS, 'hastatus', ['--spool-root', root, 'web', 'api', 'big'])
  assert.equal(status.code, 1)
  assert.equal(status.stdout, [
    'DOWN\tinf\tweb\tspool entry web is not a regular file',
    'DOWN\tinf\tapi\tspool entry api is a symbolic link, not a regular file',
    'DOWN\tinf\tbig\tspool entry big is larger than 65536 bytes',
    ''
  ].join('\n'))
  const downed = await runWithin(HANG_MS, 'hashowdowned', ['--spool-root', root])
  assert.equal(downed.code, 0, downed.stderr)
  assert.deepEqual(downed.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[2]), ['api', 'big', 'web'])
  assert.doesNotMatch(status.stdout + downed.stdout, /SECRET/)
  const weight = await runWithin(HANG_MS, 'hastatus', ['--spool-root', root, 'db'])
  assert.equal(weight.code, 1)
  assert.match(weight.stderr, /weight file @weight\/db is not a regular file/)
})

test('names whose spool files cannot exist are usage errors in the tools', async (t) => {
  const root = await tempDir(t)
  const long = 'a'.repeat(255)
  for (const args of [['-P', '8080', long], [long], ['-P', '8080', '-H', 'h'.repeat(200), 'a'.repeat(60)]]) {
    const r = await runWithin(HANG_MS, 'hadown', ['--spool-root', root, '-r', 'x', ...args])
    assert.equal(r.code, 2, `${args.join(' ').slice(0, 40)}: ${r.stderr}`)
    assert.match(r.stderr, /^hadown: (invalid service name .*is longer than 249 characters|service a+ on host h+\.\.\.: the spool file name <service>:<host>:<port> would be 266 bytes, more than 255)\nusage: /)
  }
  const fits = await runWithin(HANG_MS, 'hadown', ['--spool-root', root, '-r', 'x', '-P', '65535', 'a'.repeat(249)])
  assert.equal(fits.code, 0, fits.stderr)
  assert.deepEqual(await readdir(root), [`${'a'.repeat(249)}:65535`])
})
