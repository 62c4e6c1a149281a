import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { bin, freePort, runBin, tempDir, waitFor } from '../helper.js'

/** Starts the built `bin/hacheck` and waits until it answers /status. */
async function startHacheck (t: TestContext, args: string[], ports: number[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin('hacheck'), '-B', '127.0.0.1', ...ports.flatMap((p) => ['-p', String(p)]), ...args], {
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  t.after(() => { child.kill('SIGKILL') })
  for (const port of ports) {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`hacheck exited ${child.exitCode}: ${stderr}`)
      return (await fetch(`http://127.0.0.1:${port}/status`)).ok ? true : undefined
    }, 10000, `hacheck on port ${port}`)
  }
  return child
}

test('acceptance: spool check flips with hadown/haup on a running hacheck', async (t) => {
  const root = await tempDir(t)
  const port = await freePort()
  const config = join(await tempDir(t), 'hacheck.yaml') // not in the spool root: its readdir must stay empty
  await writeFile(config, 'cache_time: 1\n')
  await startHacheck(t, ['-c', config, '--spool-root', root], [port])
  const url = `http://127.0.0.1:${port}/spool/web/0/`

  let res = await fetch(url)
  assert.equal(res.status, 200)
  assert.equal(await res.text(), '')

  assert.equal((await runBin('hadown', ['-r', 'maintenance', '--spool-root', root, 'web'])).code, 0)
  res = await fetch(url)
  assert.equal(res.status, 503)
  assert.match(await res.text(), /^Service web in down state since [0-9]+\.[0-9]{6}: maintenance$/)

  assert.equal((await runBin('haup', ['--spool-root', root, 'web'])).code, 0)
  assert.equal((await fetch(url)).status, 200)

  // hadown refuses a past expiry; a file can still expire while it sits in the spool.
  await writeFile(join(root, 'web'), JSON.stringify({ reason: 'past', expiration: 1, creation: null }))
  assert.deepEqual(await readdir(root), ['web'])
  assert.equal((await fetch(url)).status, 200)
  assert.deepEqual(await readdir(root), [], 'the expired file is removed on the next read')
})

test('every -p port is served', async (t) => {
  const root = await tempDir(t)
  const ports = [await freePort(), await freePort()]
  await startHacheck(t, ['--spool-root', root], ports)
  for (const port of ports) assert.equal((await fetch(`http://127.0.0.1:${port}/spool/web/0/`)).status, 200)
})

test('SIGTERM stops the server with exit 0', async (t) => {
  const root = await tempDir(t)
  const port = await freePort()
  const child = await startHacheck(t, ['--spool-root', root], [port])
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
})

test('a config with a wrong type stops start-up: exit 2 naming the key', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'bad.yaml')
  await writeFile(config, 'cache_time: forever\n')
  const r = await runBin('hacheck', ['-c', config, '--spool-root', dir, '-p', String(await freePort())])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /key 'cache_time' must be a number of seconds >= 0, got string "forever"/)
  assert.ok(r.stderr.includes(config))
})

test('an unusable spool root stops start-up with a clear message, exit 1', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'file'), '')
  const r = await runBin('hacheck', ['--spool-root', join(dir, 'file'), '-p', String(await freePort())])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /spool root .*file is not a readable directory/)
})

test('the spool_root config key is used, and --spool-root wins over it', async (t) => {
  const dir = await tempDir(t)
  const fromConfig = join(dir, 'from-config')
  const fromFlag = join(dir, 'from-flag')
  const config = join(dir, 'c.yaml')
  await writeFile(config, `spool_root: ${fromConfig}\n`)
  const p1 = await freePort()
  await startHacheck(t, ['-c', config], [p1])
  assert.deepEqual(await readdir(dir).then((d) => d.sort()), ['c.yaml', 'from-config'])
  const p2 = await freePort()
  await startHacheck(t, ['-c', config, '--spool-root', fromFlag], [p2])
  assert.deepEqual(await readdir(dir).then((d) => d.sort()), ['c.yaml', 'from-config', 'from-flag'])
})

test('--version, --help and usage errors', async () => {
  let r = await runBin('hacheck', ['--version'])
  assert.deepEqual([r.code, r.stdout.startsWith('hacheck ')], [0, true])
  r = await runBin('hacheck', ['--help'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /--spool-root DIR/)
  r = await runBin('hacheck', ['--bogus'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /usage: hacheck/)
  r = await runBin('hacheck', ['-p', 'http'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--port must be an integer 0-65535/)
})

test('bin/hacheck run as a command starts Node with its young-generation size, and -n workers inherit it', async (t) => {
  const port = await freePort()
  const spool = await tempDir(t)
  // Executed itself (its #! line applies), as a user or systemd runs it.
  const child = spawn(bin('hacheck'), ['-B', '127.0.0.1', '-p', String(port), '-n', '2', '--spool-root', spool], { stdio: 'ignore' })
  t.after(() => { child.kill('SIGKILL') })
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/status`)).ok ? true : undefined, 10000, 'hacheck')
  const args = async (pid: number): Promise<string[]> => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
  assert.ok((await args(child.pid as number)).includes('--max-semi-space-size=8'), 'the primary')
  const workers: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(child.pid)) workers.push(Number(entry)) // field 4: ppid
  }
  assert.equal(workers.length, 2)
  for (const pid of workers) assert.ok((await args(pid)).includes('--max-semi-space-size=8'), `worker ${pid}`)
})
