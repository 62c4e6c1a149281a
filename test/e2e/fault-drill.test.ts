/**
 * Fault drill against the built `bin/hacheck` and spool tools: upstreams that hang or reset,
 * a spool disk that is full or read-only, a spool directory removed under a running server,
 * and a spool entry that exists but cannot be read. Every fault must end in a clear answer:
 * a 503 naming the cause (fail closed), or a tool that says what failed, exits non-zero and
 * leaves nothing half-written.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { HANG_MS, runBin, waitFor, type RunResult } from '../helper.js'
import { httpUpstream, tcpUpstream } from '../upstreams.js'
import { startHacheckProcess } from './hacheck-process.js'

/** Fetches a check and times it. */
async function timedGet (url: string): Promise<{ status: number, body: string, seconds: number }> {
  const started = performance.now()
  const res = await fetch(url, { signal: AbortSignal.timeout(HANG_MS) }) // a check that never ends fails the test, it does not hang it
  const body = await res.text()
  return { status: res.status, body, seconds: (performance.now() - started) / 1000 }
}

test('an upstream that accepts and never answers: 503 within healthcheck_timeout (http, mysql, smtp)', async (t) => {
  const silent = await tcpUpstream(t) // accepts, reads nothing, writes nothing
  const timeout = 0.5
  const hacheck = await startHacheckProcess(t, { config: { cache_time: 0, healthcheck_timeout: timeout, mysql_username: 'check' } })
  for (const protocol of ['http', 'mysql', 'smtp']) {
    const r = await timedGet(hacheck.url(`/${protocol}/svc/${silent.port}/`))
    t.diagnostic(`${protocol}: ${r.status} after ${r.seconds.toFixed(2)} s: ${r.body}`)
    assert.equal(r.status, 503, `${protocol}: ${r.body}`)
    // Cut by its timeout (nothing else ends a check of a silent upstream), not before it.
    assert.match(r.body, /timed out|did not answer/i, protocol)
    assert.ok(r.seconds >= timeout * 0.9, `${protocol} answered in ${r.seconds} s`)
  }
})

test('an upstream that resets connections: 503 naming the error', async (t) => {
  const resetting = await tcpUpstream(t, (socket) => { socket.resetAndDestroy() })
  const hacheck = await startHacheckProcess(t, { config: { cache_time: 0, mysql_username: 'check' } })
  for (const protocol of ['http', 'mysql', 'smtp']) {
    const r = await timedGet(hacheck.url(`/${protocol}/svc/${resetting.port}/`))
    t.diagnostic(`${protocol}: ${r.status}: ${r.body}`)
    assert.equal(r.status, 503, `${protocol}: ${r.body}`)
    assert.match(r.body, /Connection reset by peer/, protocol)
  }
  assert.ok(resetting.connections() >= 3)
})

/**
 * A directory holding a size-limited tmpfs (unmounted after the test), or `undefined` when this
 * process may not mount (no CAP_SYS_ADMIN).
 */
async function smallTmpfs (t: TestContext, sizeKb: number): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0755`, 'hacheck-drill', dir], { stdio: 'ignore' })
  } catch {
    await rm(dir, { recursive: true, force: true })
    return undefined
  }
  t.after(async () => {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

/** Writes zeros to `file` until the file system is full (ENOSPC). */
async function fill (file: string): Promise<void> {
  await assert.rejects(writeFile(file, Buffer.alloc(64 * 1024 * 1024)), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC')
  await assert.rejects(writeFile(`${file}2`, 'x'), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC', 'the disk is full')
}

/** Runs a spool tool under `prlimit --fsize=<bytes>`: writes past that size fail with EFBIG. */
async function runBinWithFileSizeLimit (name: string, args: string[], bytes: number): Promise<RunResult> {
  return await runBin(name, args, {}, ['prlimit', `--fsize=${bytes}`, '--'])
}

test('a full spool disk: hadown fails clearly, exits 1, leaves the previous file and no temp file', async (t) => {
  const mount = await smallTmpfs(t, 64)
  const root = mount === undefined ? await mkdtemp(join(tmpdir(), 'hacheck-full-')) : join(mount, 'spool')
  if (mount === undefined) t.after(async () => { await rm(root, { recursive: true, force: true }) })
  const spool = ['--spool-root', root]
  assert.equal((await runBin('hadown', [...spool, '-r', 'before', 'web'])).code, 0)
  const before = await readFile(join(root, 'web'), 'utf8')

  let failed: RunResult
  let newService: RunResult
  if (mount !== undefined) {
    t.diagnostic('a 64 KiB tmpfs filled to ENOSPC')
    await fill(join(mount, 'filler'))
    failed = await runBin('hadown', [...spool, '-r', 'after', 'web'])
    newService = await runBin('hadown', [...spool, '-r', 'after', 'api'])
    assert.match(failed.stderr, /hadown: cannot write spool file .*web: ENOSPC: no space left on device/)
  } else {
    // No mount here: a kernel-enforced file size limit (RLIMIT_FSIZE) fails the write instead.
    t.diagnostic('mount not permitted: writes failed with RLIMIT_FSIZE (EFBIG) instead of a full tmpfs')
    failed = await runBinWithFileSizeLimit('hadown', [...spool, '-r', 'after', 'web'], 8)
    newService = await runBinWithFileSizeLimit('hadown', [...spool, '-r', 'after', 'api'], 8)
    assert.match(failed.stderr, /hadown: cannot write spool file .*web: EFBIG: file too large/)
  }
  assert.equal(failed.code, 1)
  assert.equal(newService.code, 1)
  assert.deepEqual(await readdir(root), ['web'], 'no temp file and no api file left behind')
  assert.equal(await readFile(join(root, 'web'), 'utf8'), before, 'the previous file is intact')

  // A server reading the full spool still answers from it, and haup still works (it only removes).
  const hacheck = await startHacheckProcess(t, { spoolRoot: root })
  const down = await timedGet(hacheck.url('/spool/web/0/'))
  assert.deepEqual([down.status, /: before$/.test(down.body)], [503, true], down.body)
  assert.equal((await runBin('haup', [...spool, 'web'])).code, 0)
  assert.equal((await timedGet(hacheck.url('/spool/web/0/'))).status, 200)
})

test('a read-only spool root: hadown and haup fail clearly, exit 1, change nothing', async (t) => {
  const mount = await smallTmpfs(t, 64)
  if (mount === undefined) {
    t.skip('mount not permitted here (needs CAP_SYS_ADMIN); as root, directory modes do not stop writes')
    return
  }
  const root = join(mount, 'spool')
  assert.equal((await runBin('hadown', ['--spool-root', root, '-r', 'before', 'web'])).code, 0)
  execFileSync('mount', ['-o', 'remount,ro', mount])
  for (const [name, args] of [['hadown', ['-r', 'after', 'web']], ['hadown', ['-r', 'after', 'api']], ['haup', ['web']]] as const) {
    const r = await runBin(name, ['--spool-root', root, ...args])
    assert.equal(r.code, 1, `${name} ${args.join(' ')}`)
    assert.match(r.stderr, new RegExp(`^${name}: spool root .*spool is not a readable and writable directory: EROFS: read-only file system`))
  }
  assert.deepEqual(await readdir(root), ['web'])
  assert.match(await readFile(join(root, 'web'), 'utf8'), /"reason":"before"/)
})

test('the spool directory removed under a running server: it keeps answering, warns once, hadown recreates it', async (t) => {
  const web = await httpUpstream(t)
  const hacheck = await startHacheckProcess(t, { config: { cache_time: 0 } })
  const check = hacheck.url(`/http/web/${web.port}/health`)
  assert.equal((await runBin('hadown', ['--spool-root', hacheck.spoolRoot, '-r', 'drained', 'web'])).code, 0)
  assert.equal((await timedGet(check)).status, 503)
  const probesBefore = web.requests()

  await rm(hacheck.spoolRoot, { recursive: true })
  const warnings = (): number => hacheck.stderr().split('\n').filter((line) => line.includes('is missing')).length
  // The root is looked at once a second at most: keep checking until the warning shows.
  await waitFor(async () => {
    const r = await timedGet(check)
    assert.deepEqual([r.status, r.body], [200, 'ok'], 'no down file: the check falls through to the real probe')
    return warnings() > 0 ? true : undefined
  }, 3000, 'the missing-root warning')
  for (let i = 0; i < 15; i++) {
    assert.equal((await timedGet(check)).status, 200)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.equal(warnings(), 1, `one warning, not one per check:\n${hacheck.stderr()}`)
  assert.match(hacheck.stderr(), /"level":40.*spool root .* is missing: no service counts as down until it is recreated/)
  assert.ok(web.requests() > probesBefore, 'the upstream was probed')

  assert.equal((await runBin('hadown', ['--spool-root', hacheck.spoolRoot, '-r', 'again', 'web'])).code, 0)
  assert.deepEqual(await readdir(hacheck.spoolRoot), ['web'], 'hadown recreated the root')
  const r = await timedGet(check)
  assert.deepEqual([r.status, /: again$/.test(r.body)], [503, true], r.body)
})

test('a spool entry that exists but cannot be read answers down (fail closed), without probing', async (t) => {
  const web = await httpUpstream(t)
  const hacheck = await startHacheckProcess(t, { config: { cache_time: 0 } })
  // Tests run as root, which reads any file whatever its mode: a directory in the file's place
  // is an entry that really cannot be read as a spool file.
  await mkdir(join(hacheck.spoolRoot, 'web'))
  for (const path of ['/spool/web/0/', `/http/web/${web.port}/health`]) {
    const r = await timedGet(hacheck.url(path))
    assert.equal(r.status, 503, path)
    assert.equal(r.body, 'Service web in down state: spool entry web is not a regular file', path)
  }
  assert.equal(web.requests(), 0)
  assert.equal((await timedGet(hacheck.url('/spool/api/0/'))).status, 200, 'other services are unaffected')
})
