import assert from 'node:assert/strict'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort, HANG_MS, isAlive, spawnHacheck, tempDir, waitFor } from '../helper.js'
import { parsePrometheus, sampleValue } from '../prometheus.js'

const get = async (url: string): Promise<{ status: number, body: string }> => {
  const res = await fetch(url)
  return { status: res.status, body: await res.text() }
}

/** A GET on a fresh connection (no keep-alive pool), so each request is a new accept. */
const getFresh = async (url: string): Promise<{ status: number, body: string }> => await new Promise((resolve, reject) => {
  const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
    let body = ''
    res.setEncoding('utf8').on('data', (d: string) => { body += d }).on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
  })
  req.on('error', reject)
  req.end()
})

async function writeConfig (dir: string, text: string): Promise<string> {
  const file = join(dir, 'hacheck.yaml')
  await writeFile(file, text)
  return file
}

test('the start-up line is written at the default level: version, ports, spool root, config', async (t) => {
  const root = await tempDir(t)
  const port = await freePort()
  const config = await writeConfig(root, 'cache_time: 1\n')
  const h = await spawnHacheck(t, ['-c', config, '--spool-root', join(root, 'spool')], { ports: [port] })
  const line = await h.waitForLog((r) => r.msg === 'hacheck started')
  assert.equal(line.level, 30)
  assert.deepEqual([line.ports, line.spoolRoot, line.config, typeof line.version], [[port], join(root, 'spool'), config, 'string'])
})

test('-B accepts IPv6: -B ::1 serves on [::1]', async (t) => {
  const root = await tempDir(t)
  const port = await freePort()
  await spawnHacheck(t, ['-B', '::1', '--spool-root', root], { ports: [port], host: '::1' })
  assert.equal((await get(`http://[::1]:${port}/spool/web/0/`)).status, 200)
})

test('SIGTERM during a slow in-flight check: it is answered, new connections are refused, exit 0', async (t) => {
  for (const procs of ['1', '2']) {
    const root = await tempDir(t)
    const port = await freePort()
    // A long keep-alive timeout: the stop must not wait for it.
    const config = await writeConfig(root, 'keep_alive_timeout: 60\n')
    // The check is held 3 s, well past the moment the signal is sent; the keep-alive timeout
    // of 60 s is what a stop that waited for idle connections would take.
    const h = await spawnHacheck(t, ['-n', procs, '-c', config, '--spool-root', root], { ports: [port], fixture: 'slow-hacheck', env: { HACHECK_TEST_DELAY_MS: '3000' } })
    if (procs === '2') await h.waitForLog((r) => r.msg === 'hacheck started')
    // fetch keeps its connection alive after the answer unless told to close it.
    const inFlight = fetch(`http://127.0.0.1:${port}/slow/web/0/`).then(async (res) => ({ status: res.status, body: await res.text(), connection: res.headers.get('connection') }))
    await h.waitForLog((r) => r.msg === 'slow check started', HANG_MS, 'the slow check in flight')
    const signalled = performance.now()
    h.child.kill('SIGTERM')
    await h.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('stopping'), HANG_MS, 'stopping')
    // The listener closes as the stop begins: wait until a new connection is refused, while the
    // held check is still in flight.
    await waitFor(async () => await getFresh(`http://127.0.0.1:${port}/spool/web/0/`).then(() => undefined, (err: Error) => /ECONNREFUSED|ECONNRESET/.test(err.message) ? true : undefined), HANG_MS, `-n ${procs}: new connections refused while stopping`)
    assert.equal(h.child.exitCode, null, `-n ${procs}: still running for the check in flight`)
    assert.deepEqual(await inFlight, { status: 200, body: 'slow ok', connection: 'close' }, `-n ${procs}`)
    assert.equal(await h.exited, 0, `-n ${procs}: ${h.stderr()}`)
    const stoppedMs = performance.now() - signalled
    t.diagnostic(`-n ${procs}: stopped ${stoppedMs.toFixed(0)} ms after SIGTERM (the check held 3 s, keep-alive 60 s)`)
    assert.ok(stoppedMs < 30_000, `-n ${procs}: the stop waited for the idle keep-alive connection (${stoppedMs.toFixed(0)} ms)`)
  }
})

test('a stop that overruns shutdown_timeout exits 1 within the bound', async (t) => {
  const root = await tempDir(t)
  const port = await freePort()
  const config = await writeConfig(root, 'shutdown_timeout: 0.5\n')
  // Held far longer than any machine takes to stop: an exit before it is the bound at work.
  const h = await spawnHacheck(t, ['-c', config, '--spool-root', root], { ports: [port], fixture: 'slow-hacheck', env: { HACHECK_TEST_DELAY_MS: '600000' } })
  getFresh(`http://127.0.0.1:${port}/slow/web/0/`).catch(() => {})
  await h.waitForLog((r) => r.msg === 'slow check started', HANG_MS, 'the slow check in flight')
  const started = performance.now()
  h.child.kill('SIGTERM')
  assert.equal(await h.exited, 1)
  t.diagnostic(`shutdown_timeout 0.5 s: exited ${(performance.now() - started).toFixed(0)} ms after SIGTERM, the check still in flight`)
  assert.match(h.stderr(), /did not finish within shutdown_timeout/)
})

test('-n 2: both workers serve, a killed worker is replaced, /metrics adds up all workers, SIGTERM stops all', async (t) => {
  const root = await tempDir(t)
  const port = await freePort()
  const h = await spawnHacheck(t, ['-n', '2', '--spool-root', root], { ports: [port] })
  const started = await h.waitForLog((r) => r.msg === 'hacheck started')
  const workers = started.workers as number[]
  assert.equal(workers.length, 2)
  assert.ok(workers.every(isAlive))

  process.kill(workers[0] as number, 'SIGKILL')
  await h.waitForLog((r) => r.msg === 'worker died; replacing it' && r.worker_pid === workers[0])
  const replaced = await h.waitForLog((r) => r.msg === 'worker started')
  const fresh = replaced.worker_pid as number
  assert.ok(!workers.includes(fresh))
  assert.ok(isAlive(fresh) && !isAlive(workers[0] as number))

  // New connections are spread over both workers; each answers.
  for (let i = 0; i < 20; i++) assert.equal((await getFresh(`http://127.0.0.1:${port}/spool/web/0/`)).status, 200)
  // Whichever worker answers the scrape, the counts are the cluster's (20 here, plus none lost).
  const counts = new Set<number>()
  for (let i = 0; i < 4; i++) {
    const m = parsePrometheus((await getFresh(`http://127.0.0.1:${port}/metrics`)).body)
    counts.add(sampleValue(m, 'hacheck_checks_total', { protocol: 'spool', code: '200' }))
  }
  assert.equal(counts.size, 1, `every scrape sees the same total: ${[...counts].join(', ')}`)
  assert.ok([...counts][0] as number >= 20)

  h.child.kill('SIGTERM')
  assert.equal(await h.exited, 0)
  await waitFor(async () => ([workers[1], fresh] as number[]).every((pid) => !isAlive(pid)) ? true : undefined, 5000, 'workers gone')
})

test('a worker that cannot start fails the whole start-up with its message (port in use)', async (t) => {
  const root = await tempDir(t)
  const port = await freePort()
  await spawnHacheck(t, ['--spool-root', root], { ports: [port] })
  const h = await spawnHacheck(t, ['-n', '2', '--spool-root', root, '-p', String(port)], { ports: [] })
  assert.equal(await h.exited, 1)
  assert.match(h.stderr(), /EADDRINUSE/)
})

test('SIGHUP reopens the log file: after a rename, new lines land in the new file', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const log = join(dir, 'hacheck.log')
  const config = await writeConfig(dir, `log_path: ${log}\n`)
  const h = await spawnHacheck(t, ['-v', '-c', config, '--spool-root', join(dir, 'spool')], { ports: [port] })
  await get(`http://127.0.0.1:${port}/spool/before/0/`)
  await waitFor(async () => (await readFile(log, 'utf8')).includes('/spool/before/0/') ? true : undefined, 5000, 'first line')
  await rename(log, `${log}.1`)
  h.child.kill('SIGHUP')
  // A request sent together with the signal may be answered (and logged to the old file) before
  // the signal is handled: ask only once the new file exists.
  await waitFor(async () => (await readFile(log, 'utf8')).includes('log file reopened (SIGHUP)') ? true : undefined, 5000, 'the reopened file')
  await get(`http://127.0.0.1:${port}/spool/after/0/`)
  const fresh = await waitFor(async () => {
    const text = await readFile(log, 'utf8')
    return text.includes('/spool/after/0/') ? text : undefined
  }, 5000, 'lines in the new file')
  assert.ok(!fresh.includes('/spool/before/0/'))
  const rotated = await readFile(`${log}.1`, 'utf8')
  assert.ok(rotated.includes('hacheck started') && !rotated.includes('/spool/after/0/'))
  assert.equal(h.child.exitCode, null, 'SIGHUP does not stop the server')
})

test('a log file rotated away without a signal is reopened by itself (as WatchedFileHandler does)', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const log = join(dir, 'hacheck.log')
  const config = await writeConfig(dir, `log_path: ${log}\n`)
  await spawnHacheck(t, ['-v', '-c', config, '--spool-root', join(dir, 'spool')], { ports: [port] })
  await waitFor(async () => (await readFile(log, 'utf8')).includes('hacheck started') ? true : undefined, 5000, 'start-up line')
  await rename(log, `${log}.1`)
  await waitFor(async () => {
    await get(`http://127.0.0.1:${port}/spool/after/0/`)
    return (await readFile(log, 'utf8')).includes('/spool/after/0/') ? true : undefined
  }, 5000, 'lines in the recreated file')
})

test('rlimit_nofile raises the limit (a number, or max = the hard limit), or start-up fails saying why', async (t) => {
  if (process.platform !== 'linux') { t.skip('Linux only'); return }
  // Node itself raises the soft limit to the hard one at start, so the child starts at 2048:2048
  // and only a number above the hard limit changes anything (that needs root: CAP_SYS_RESOURCE).
  const wrapper = ['prlimit', '--nofile=1024:2048']
  const limitsOf = async (pid: number): Promise<string | undefined> => /^Max open files\s+(\d+\s+\d+)/m.exec(await readFile(`/proc/${pid}/limits`, 'utf8'))?.[1]?.replace(/\s+/, ':')
  // Raising the hard limit needs CAP_SYS_RESOURCE (bit 24 of the effective capabilities).
  const capEff = /^CapEff:\s+([0-9a-f]+)/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1] ?? '0'
  const root = (BigInt(`0x${capEff}`) & (1n << 24n)) !== 0n
  for (const [setting, expected] of [['max', '2048:2048'], ['1500', '2048:2048'], ['4096', root ? '4096:4096' : null]] as const) {
    const dir = await tempDir(t)
    const config = await writeConfig(dir, `rlimit_nofile: ${setting}\nmax_connections: 100\n`)
    if (expected === null) {
      const h = await spawnHacheck(t, ['-c', config, '--spool-root', dir, '-p', String(await freePort())], { ports: [], wrapper })
      assert.equal(await h.exited, 1)
      assert.match(h.stderr(), /hacheck: cannot raise the open-files limit to 4096 \(soft 2048, hard 2048\)/)
      continue
    }
    const h = await spawnHacheck(t, ['-c', config, '--spool-root', dir], { ports: [await freePort()], wrapper })
    assert.equal(await limitsOf(h.child.pid as number), expected, setting)
    h.child.kill('SIGTERM')
    assert.equal(await h.exited, 0)
  }
  const dir = await tempDir(t)
  const config = await writeConfig(dir, 'rlimit_nofile: 999999999999\n')
  const h = await spawnHacheck(t, ['-c', config, '--spool-root', dir, '-p', String(await freePort())], { ports: [], wrapper })
  assert.equal(await h.exited, 1)
  assert.match(h.stderr(), /hacheck: cannot raise the open-files limit to 999999999999 \(soft 2048, hard 2048\): prlimit: /)
})

test('a max_connections above the open-files limit is warned about at start', async (t) => {
  if (process.platform !== 'linux') { t.skip('Linux only'); return }
  const dir = await tempDir(t)
  const port = await freePort()
  const h = await spawnHacheck(t, ['--spool-root', dir], { ports: [port], wrapper: ['prlimit', '--nofile=1024:1024'] })
  const warning = await h.waitForLog((r) => typeof r.msg === 'string' && r.msg.includes('open-files limit is below max_connections'))
  assert.deepEqual([warning.level, warning.nofile_soft_limit, warning.max_connections], [40, 1024, 4096])
})
