/**
 * The `script` protocol against real commands: /bin/sh scripts written at test time into a temp
 * directory, run through the route (`/script/<name>/<port>/`) as a balancer would ask.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { KILL_GRACE_MS, MAX_OUTPUT_BYTES } from '../../src/checkers/script.js'
import { buildTestApp, HANG_MS, tempDir, turnsUntil, waitFor } from '../helper.js'

/** Writes an executable /bin/sh script and returns its path. */
async function shScript (dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return path
}

/** True while `pid` runs: it exists and is not a zombie (reaping orphans is init's job, not ours). */
function running (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** The pids the script wrote into `names` in `dir`, once all are there; undefined before. */
function pidsNow (dir: string, names: readonly string[]): number[] | undefined {
  try {
    const pids = names.map((n) => Number(readFileSync(join(dir, n), 'utf8').trim()))
    return pids.every((p) => Number.isInteger(p) && p > 0) ? pids : undefined
  } catch {
    return undefined
  }
}

/** {@link pidsNow} waited for one event-loop turn at a time: works under mocked timers. */
async function pidsWritten (dir: string, names: readonly string[]): Promise<number[]> {
  let pids: number[] | undefined
  await turnsUntil(() => (pids = pidsNow(dir, names)) !== undefined, `pid files ${names.join(', ')}`)
  return pids as number[]
}

/** Lines in `dir`/`name` (0 when it does not exist yet). */
function lines (dir: string, name: string): number {
  try {
    return readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean).length
  } catch {
    return 0
  }
}

/** Runs `app.inject(url)`, ticking mocked timers by `ms` once the script has written `pidFiles`; waits for the answer without moving time further. */
async function injectAndTick (t: TestContext, app: FastifyInstance, url: string, dir: string, pidFiles: readonly string[], ms: number): Promise<{ res: LightMyRequestResponse, pids: number[] }> {
  let res: LightMyRequestResponse | undefined
  app.inject(url).then((r) => { res = r }, () => {})
  const pids = await pidsWritten(dir, pidFiles)
  // One more poll phase: what the script printed before writing its pid files is read by then.
  await new Promise((resolve) => setImmediate(resolve))
  t.mock.timers.tick(ms)
  await turnsUntil(() => res !== undefined, `the answer to ${url} once ${ms} ms passed`)
  return { res: res as LightMyRequestResponse, pids }
}

async function appWith (t: TestContext, scripts: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  return await buildTestApp(t, { cache_time: 0, scripts, ...overrides })
}

test('script: exit 0 passes with its output (200, PROCOK); a string runs with /bin/sh -c', async (t) => {
  const dir = await tempDir(t)
  const ok = await shScript(dir, 'ok.sh', 'echo imok')
  const { app } = await appWith(t, { zk: { command: [ok] }, shell: { command: 'echo "$HACHECK_SERVICE:$HACHECK_PORT" | tr a-z A-Z' } })
  const res = await app.inject('/script/zk/0/')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['x-hacheck-status'], 'PROCOK')
  assert.match(res.body, /^exit 0 in [0-9]+\.[0-9]{2}s: imok$/)
  const shell = await app.inject('/script/shell/8080')
  assert.equal(shell.statusCode, 200)
  assert.match(shell.body, /: SHELL:8080$/)
})

test('script: exit 1 fails with its output in the body (503, PROCERR)', async (t) => {
  const dir = await tempDir(t)
  const bad = await shScript(dir, 'bad.sh', 'echo "not in quorum"; echo "mode: looking" >&2; exit 1')
  const { app } = await appWith(t, { zk: { command: [bad] } })
  const res = await app.inject('/script/zk/0/')
  assert.equal(res.statusCode, 503)
  assert.equal(res.headers['x-hacheck-status'], 'PROCERR')
  assert.match(res.body, /^exit 1 after [0-9.]+s: not in quorum\nmode: looking$/)
})

test('script: one that sleeps past its timeout answers within timeout + 1 s and leaves no process', async (t) => {
  const dir = await tempDir(t)
  const slow = await shScript(dir, 'slow.sh', 'echo starting; sleep 30 & echo $! > "$1/sleep.pid"; echo $$ > "$1/leader.pid"; wait')
  const { app } = await appWith(t, { slow: { command: [slow, dir], timeout: 0.5 } }, { healthcheck_timeout: 10 })
  // Mocked timers: the script's timeout passes when the test says, whatever the machine's load.
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const { res, pids } = await injectAndTick(t, app, '/script/slow/0/', dir, ['leader.pid', 'sleep.pid'], 500)
  assert.equal(res.statusCode, 503)
  assert.equal(res.headers['x-hacheck-status'], 'PROCTOUT')
  assert.match(res.body, /^timed out after [0-9]+\.[0-9]{2}s: starting$/)
  t.mock.timers.tick(KILL_GRACE_MS) // SIGTERM ends both; SIGKILL would follow the grace
  await turnsUntil(() => pids.every((p) => !running(p)), 'the script and its sleep to be gone')
})

test('script: a forked child that ignores SIGTERM is still gone (SIGKILL after the grace)', async (t) => {
  const dir = await tempDir(t)
  // Each loop turn adds a line to a beat file: a process that writes one after the SIGTERM survived it.
  const stubborn = await shScript(dir, 'stubborn.sh', [
    'trap "" TERM',
    '/bin/sh -c \'trap "" TERM; echo $$ > "$1/child.pid"; while :; do echo beat >> "$1/child.beat"; sleep 0.05; done\' child "$1" &',
    'echo $$ > "$1/leader.pid"',
    'while :; do echo beat >> "$1/leader.beat"; sleep 0.05; done'
  ].join('\n'))
  const { app } = await appWith(t, { stubborn: { command: [stubborn, dir], timeout: 0.5 } })
  // Mocked timers: the grace lasts until the test ends it, however slow the machine.
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const { res, pids } = await injectAndTick(t, app, '/script/stubborn/0/', dir, ['leader.pid', 'child.pid'], 500)
  assert.equal(res.statusCode, 503)
  assert.equal(res.headers['x-hacheck-status'], 'PROCTOUT')
  // SIGTERM went to the group when the answer was given; both ignore it and go on during the grace...
  const beats = [lines(dir, 'leader.beat'), lines(dir, 'child.beat')]
  await turnsUntil(() => lines(dir, 'leader.beat') > (beats[0] as number) && lines(dir, 'child.beat') > (beats[1] as number), 'both processes to run on after SIGTERM')
  assert.ok(pids.every(running), 'SIGTERM-ignoring processes survive until SIGKILL')
  t.mock.timers.tick(KILL_GRACE_MS - 1)
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(pids.every(running), 'no SIGKILL before the grace is over')
  // ...and SIGKILL ends the whole group after it.
  t.mock.timers.tick(1)
  await turnsUntil(() => pids.every((p) => !running(p)), 'the group to be killed')
})

test('script: a command that exits leaves no straggler behind', async (t) => {
  const dir = await tempDir(t)
  const leaver = await shScript(dir, 'leaver.sh', 'sleep 30 </dev/null >/dev/null 2>&1 & echo $! > "$1/bg.pid"; echo done')
  const { app } = await appWith(t, { leaver: { command: [leaver, dir] } })
  const res = await app.inject('/script/leaver/0/')
  assert.equal(res.statusCode, 200)
  const [bg = 0] = await pidsWritten(dir, ['bg.pid'])
  await waitFor(async () => running(bg) ? undefined : true, HANG_MS, 'the background sleep to be ended')
})

test('script: a missing executable fails cleanly (503, PROCERR, the error named)', async (t) => {
  const dir = await tempDir(t)
  const { app } = await appWith(t, { gone: { command: [join(dir, 'no-such-script')] } })
  const res = await app.inject('/script/gone/0/')
  assert.equal(res.statusCode, 503)
  assert.equal(res.headers['x-hacheck-status'], 'PROCERR')
  assert.match(res.body, /^cannot run .*no-such-script: \[Errno 2\] No such file or directory$/)
})

test('script: 1 MB of output is read to the end; at most 4 KiB of it becomes the message', async (t) => {
  const dir = await tempDir(t)
  const chatty = await shScript(dir, 'chatty.sh', 'head -c 1048576 /dev/zero | tr "\\0" x; echo; echo tail-marker >&2')
  const { app } = await appWith(t, { chatty: { command: [chatty] } })
  const res = await app.inject('/script/chatty/0/')
  assert.equal(res.statusCode, 200, 'the command exits 0 even though its output is mostly dropped')
  const [summary = '', output = ''] = res.body.split(': ')
  assert.match(summary, /^exit 0 in [0-9.]+s \(output cut to its first 4096 bytes\)$/)
  assert.equal(output, 'x'.repeat(MAX_OUTPUT_BYTES))
  assert.ok(!res.body.includes('tail-marker'))
})

test('script: minimal environment, working directory /, stdin closed', async (t) => {
  const dir = await tempDir(t)
  // Under a coverage run (c8), Node itself adds NODE_V8_COVERAGE to every child's environment.
  const probe = await shScript(dir, 'env.sh', 'cat; pwd; env | grep -v -e "^PWD=" -e "^NODE_V8_COVERAGE=" | sort')
  process.env.HACHECK_TEST_SECRET = 'must-not-leak'
  t.after(() => { delete process.env.HACHECK_TEST_SECRET })
  const { app } = await appWith(t, { envcheck: { command: [probe] } })
  const res = await app.inject('/script/envcheck/4321/')
  assert.equal(res.statusCode, 200, 'cat ends at once: stdin is /dev/null')
  const lines = res.body.split(': ').slice(1).join(': ').split('\n')
  assert.equal(lines[0], '/')
  assert.deepEqual(lines.slice(1).map((l) => l.split('=')[0]), ['HACHECK_PORT', 'HACHECK_SERVICE', 'PATH'])
  assert.ok(lines.includes('HACHECK_SERVICE=envcheck'))
  assert.ok(lines.includes('HACHECK_PORT=4321'))
})

test('script: results are cached like any probe, per script name', async (t) => {
  const dir = await tempDir(t)
  const counter = await shScript(dir, 'count.sh', 'echo run >> "$1/runs-$HACHECK_SERVICE"; echo counted')
  const { app } = await buildTestApp(t, { cache_time: 60, scripts: { a: { command: [counter, dir] }, b: { command: [counter, dir] } } })
  await Promise.all(Array.from({ length: 20 }, async () => await app.inject('/script/a/0/')))
  assert.equal((await app.inject('/script/a/0/')).statusCode, 200)
  assert.equal((await app.inject('/script/b/0/')).statusCode, 200, 'another name is another probe')
  assert.equal((await readFile(join(dir, 'runs-a'), 'utf8')).split('\n').filter(Boolean).length, 1)
  assert.equal((await readFile(join(dir, 'runs-b'), 'utf8')).split('\n').filter(Boolean).length, 1)
  await app.inject({ url: '/script/a/0/', headers: { pragma: 'no-cache' } })
  assert.equal((await readFile(join(dir, 'runs-a'), 'utf8')).split('\n').filter(Boolean).length, 2)
})

test('script: only configured names run; nothing in the URL reaches a command', async (t) => {
  const dir = await tempDir(t)
  const ok = await shScript(dir, 'ok.sh', 'echo "args:$#"')
  const { app, spool } = await appWith(t, { zk: { command: [ok] } })
  const unknown = await app.inject('/script/other/0/')
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.body, 'no script other in the config')
  for (const url of ['/script/../0/', '/script/zk%2F..%2Fok.sh/0/', '/script/zk/x/']) assert.equal((await app.inject(url)).statusCode, 404, url)
  const res = await app.inject('/script/zk/0/extra/path?arg=--evil')
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /: args:0$/)
  await spool.down({ service: 'zk' }, { reason: 'zk upgrade', creation: 1 })
  const downed = await app.inject('/script/zk/0/')
  assert.equal(downed.statusCode, 503, 'the spool gate runs first')
  assert.equal(downed.body, 'Service zk in down state since 1.000000: zk upgrade')
})

test('script: starts are paced (script_starts_per_second); past the wait a start is refused and answers down', async (t) => {
  const dir = await tempDir(t)
  const ok = await shScript(dir, 'ok.sh', `echo run >> ${join(dir, 'runs')}`)
  const { app } = await appWith(t, { zk: { command: [ok], timeout: 1 } }, { script_starts_per_second: 1 })
  // Seven distinct checks at once (a new port each: every one a cache miss): one start now, five
  // wait for a start (five seconds' worth), the seventh is refused at once.
  const answers = await Promise.all(Array.from({ length: 7 }, async (_, i) => await app.inject(`/script/zk/${i + 1}/`)))
  const kinds = answers.map((r) => `${r.statusCode} ${String(r.headers['x-hacheck-status'])}${/waiting to start/.test(r.body) ? ' waited' : ''}`)
  t.diagnostic(JSON.stringify(kinds))
  assert.equal(kinds[0], '200 PROCOK')
  assert.equal(answers.filter((r) => r.body === 'not started: too many script starts waiting (script_starts_per_second)' && r.statusCode === 503).length, 1)
  // A start granted late may still meet the check's timeout (which counts the wait).
  for (const kind of kinds.slice(1)) assert.match(kind, /^200 PROCOK$|^503 PROCTOUT( waited)?$|^503 PROCERR$/)
  const started = kinds.filter((k) => k === '200 PROCOK' || k === '503 PROCTOUT').length
  assert.ok(lines(dir, 'runs') <= started && started <= 2, `only granted starts ran (${lines(dir, 'runs')} of ${started}): one a second`)
})
