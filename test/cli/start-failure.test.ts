/**
 * Every start-up failure of `hacheck` prints one line, `hacheck: <why>`, and no stack trace
 * (a trace only with -v), with the documented exit code: 2 usage/config, 1 the rest. With
 * `-n 2` still one line.
 */
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { bin, freePort, runBin, runCommand, tempDir } from '../helper.js'

/** A listener holding a port, so hacheck cannot take it. */
async function takenPort (t: TestContext): Promise<number> {
  const port = await freePort()
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.after(() => { server.close() })
  return port
}

/** Runs hacheck expecting a start-up failure; asserts one line and no trace; returns the line. */
async function failsWithOneLine (args: string[], code: number): Promise<string> {
  const r = await runBin('hacheck', ['-B', '127.0.0.1', ...args])
  assert.equal(r.code, code, `exit code for ${args.join(' ')}: ${r.stderr}`)
  assert.equal(r.stdout, '')
  const lines = r.stderr.split('\n').filter((line) => line !== '')
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`)
  assert.match(r.stderr, /^hacheck: [^\n]+\n$/)
  assert.doesNotMatch(r.stderr, /"stack"|\n\s+at |FastifyError|statusCode/)
  return lines[0] as string
}

async function config (t: TestContext, text: string): Promise<{ dir: string, file: string }> {
  const dir = await tempDir(t)
  const file = join(dir, 'hacheck.yaml')
  await writeFile(file, text)
  return { dir, file }
}

test('port in use: one line naming the address, exit 1; the same with -n 2', async (t) => {
  const port = await takenPort(t)
  const spool = await tempDir(t)
  const expected = `hacheck: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`
  assert.equal(await failsWithOneLine(['-p', String(port), '--spool-root', spool], 1), expected)
  assert.equal(await failsWithOneLine(['-n', '2', '-p', String(port), '--spool-root', spool], 1), expected)
})

test('an rlimit_nofile that cannot be applied: one line with the reason, exit 1', async (t) => {
  if (process.platform !== 'linux') { t.skip('Linux only'); return }
  const { dir, file } = await config(t, 'rlimit_nofile: 999999999999\n')
  const line = await failsWithOneLine(['-c', file, '-p', String(await freePort()), '--spool-root', dir], 1)
  assert.match(line, /^hacheck: cannot raise the open-files limit to 999999999999 /)
})

test('a bad agent_checks entry: one line naming it and the file, exit 2, with or without the agent port, and with -n 2', async (t) => {
  const { dir, file } = await config(t, 'agent_checks:\n  web: gopher/70/\n')
  const port = String(await freePort())
  const expected = `hacheck: config error: agent_checks.web "gopher/70/": unknown protocol 'gopher'; expected <protocol>/<port>/<query> (in ${file}, line 2)`
  assert.equal(await failsWithOneLine(['-c', file, '-p', port, '--spool-root', dir], 2), expected)
  assert.equal(await failsWithOneLine(['-c', file, '-p', port, '--spool-root', dir, '--agent-port', '0'], 2), expected)
  assert.equal(await failsWithOneLine(['-c', file, '-p', port, '--spool-root', dir, '-n', '2'], 2), expected)
})

test('a config error names the bad entry: a CIDR list item, an agent_checks entry', async (t) => {
  let { dir, file } = await config(t, 'allowed_check_networks:\n  - 10.0.0.0/8\n  - 10.0.0.0/33\n')
  let line = await failsWithOneLine(['-c', file, '-p', String(await freePort()), '--spool-root', dir], 2)
  assert.match(line, /key 'allowed_check_networks' must be a list of CIDR networks \(e\.g\. 10\.0\.0\.0\/8\): item 2 \("10\.0\.0\.0\/33"\) is not a CIDR network/)
  ;({ dir, file } = await config(t, 'agent_checks:\n  web: http-8080\n'))
  line = await failsWithOneLine(['-c', file, '-p', String(await freePort()), '--spool-root', dir], 2)
  assert.match(line, /key 'agent_checks' must be a mapping .*: entry web \("http-8080"\) is not a check <protocol>\/<port>\/<query>/)
})

test('a spool root that cannot be created or used: one line, exit 1; a missing parent is not created', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'file'), '')
  const port = String(await freePort())
  let line = await failsWithOneLine(['-p', port, '--spool-root', join(dir, 'file')], 1)
  assert.match(line, /^hacheck: spool root .*file is not a readable directory/)
  line = await failsWithOneLine(['-p', port, '--spool-root', join(dir, 'no', 'such', 'spool')], 1)
  assert.equal(line, `hacheck: cannot create spool root ${join(dir, 'no', 'such', 'spool')}: its parent directory does not exist`)
  assert.deepEqual((await readdir(dir)).sort(), ['file'])
})

test('log_path in a directory that does not exist is refused, not created: one line, exit 1', async (t) => {
  const dir = await tempDir(t)
  const { file } = await config(t, `log_path: ${join(dir, 'logs', 'hacheck.log')}\n`)
  const line = await failsWithOneLine(['-c', file, '-p', String(await freePort()), '--spool-root', join(dir, 'spool')], 1)
  assert.equal(line, `hacheck: cannot open log file ${join(dir, 'logs', 'hacheck.log')} (log_path): its directory ${join(dir, 'logs')} does not exist`)
  assert.deepEqual(await readdir(dir), [], 'neither the log directory nor the spool root was created')
})

test('an unusable log_path (a directory): one line, exit 1', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'logdir'))
  const { file } = await config(t, `log_path: ${join(dir, 'logdir')}\n`)
  const line = await failsWithOneLine(['-c', file, '-p', String(await freePort()), '--spool-root', join(dir, 'spool')], 1)
  assert.match(line, /^hacheck: cannot open log file .*logdir \(log_path\): EISDIR/)
})

test('with a log file the failure is also written there (an existing one: a failed start creates none); with -v the trace appears', async (t) => {
  const port = await takenPort(t)
  const dir = await tempDir(t)
  const log = join(dir, 'hacheck.log')
  const { file } = await config(t, `log_path: ${log}\n`)
  await failsWithOneLine(['-c', file, '-p', String(port), '--spool-root', join(dir, 'spool')], 1)
  assert.deepEqual(await readdir(dir), [], 'neither the log file nor the spool root was created')
  await writeFile(log, '')
  await failsWithOneLine(['-c', file, '-p', String(port), '--spool-root', join(dir, 'spool')], 1)
  const record = JSON.parse((await readFile(log, 'utf8')).trim().split('\n').at(-1) as string) as { level: number, msg: string }
  assert.deepEqual([record.level, record.msg], [60, `start-up failed: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`])

  const r = await runBin('hacheck', ['-v', '-B', '127.0.0.1', '-p', String(port), '--spool-root', join(dir, 'spool')])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^hacheck: cannot listen on /)
  assert.match(r.stderr, /"stack":"[^"]*cannot listen on 127\.0\.0\.1:\d+: address already in use/)
})

test('a bind address this host does not have: one line, exit 1, and nothing created on disk (no spool root, no log file)', async (t) => {
  const dir = await tempDir(t)
  const { file } = await config(t, `log_path: ${join(dir, 'hacheck.log')}\nspool_root: ${join(dir, 'spool')}\n`)
  // 192.0.2.1 (TEST-NET-1, RFC 5737) is on no interface here: bind fails, nothing is sent.
  const line = await failsWithOneLine(['-c', file, '-p', String(await freePort()), '-B', '192.0.2.1'], 1)
  assert.match(line, /^hacheck: cannot listen on 192\.0\.2\.1:\d+: address not available on this host \(EADDRNOTAVAIL\)$/)
  assert.deepEqual(await readdir(dir), [], 'neither the log file nor the spool root was created')
  // The agent port is tried as well, on agent_bind.
  const agent = await config(t, `agent_bind: 192.0.2.1\nagent_port: ${await freePort()}\nspool_root: ${join(dir, 'spool')}\n`)
  assert.match(await failsWithOneLine(['-c', agent.file, '-p', String(await freePort())], 1), /^hacheck: cannot listen on 192\.0\.2\.1:\d+: address not available/)
  assert.deepEqual(await readdir(dir), [])
})

test('an unknown flag or a stray argument: hacheck\'s own one line, then the usage line, exit 2', async () => {
  for (const [args, want] of [
    [['--bogus'], 'hacheck: unknown flag --bogus (--help lists the flags)'],
    [['-x'], 'hacheck: unknown flag -x (--help lists the flags)'],
    [['extra'], 'hacheck: unexpected argument "extra": this command takes flags only (--help lists them)'],
    [['-p'], 'hacheck: -p, --port needs a value'],
    [['-p', '-1'], 'hacheck: --port must be an integer 0-65535, got "-1"'],
    [['-c', '-v'], 'hacheck: -c needs a value, but the next argument is the flag -v']
  ] as const) {
    const r = await runBin('hacheck', args)
    assert.equal(r.code, 2, args.join(' '))
    assert.deepEqual(r.stderr.split('\n'), [want, r.stderr.split('\n')[1], ''], args.join(' '))
    assert.match(r.stderr.split('\n')[1] as string, /^usage: hacheck /)
  }
})

test('a -B name that does not resolve: one line naming it, exit 1, nothing created (run in an empty network namespace: the lookup leaves no machine)', async (t) => {
  if (process.getuid?.() !== 0) { t.skip('ip netns needs root'); return }
  const ns = `hc-resolve-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const added = await runCommand('ip', ['netns', 'add', ns])
  if (added.code !== 0) { t.skip(`ip netns add is not permitted here: ${added.stderr.trim()}`); return }
  t.after(async () => { await runCommand('ip', ['netns', 'del', ns]) })
  const dir = await tempDir(t)
  const r = await runCommand('ip', ['netns', 'exec', ns, process.execPath, bin('hacheck'), '-B', 'no-such-host.invalid', '-p', '3333', '--spool-root', join(dir, 'spool')])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /^hacheck: cannot listen on no-such-host\.invalid:3333: the name (does not resolve to an address \(ENOTFOUND\)|cannot be resolved now \(DNS temporarily failing\) \(EAI_AGAIN\))\n$/)
  assert.deepEqual(await readdir(dir), [])
})

test('YAML errors and bad group members name the config file and line', async (t) => {
  const dir = await tempDir(t)
  let { file } = await config(t, 'cache_time: 2\nhttp_headers_to_copy: [Host,\n')
  assert.match(await failsWithOneLine(['-c', file, '-p', '0', '--spool-root', join(dir, 's')], 2),
    new RegExp(`^hacheck: config file ${file.replaceAll('.', '\\.')}, line 3, column 1: not valid YAML: `))
  ;({ file } = await config(t, 'cache_time: 2\ncache_time: 3\n'))
  assert.equal(await failsWithOneLine(['-c', file, '-p', '0', '--spool-root', join(dir, 's')], 2),
    `hacheck: config file ${file}, line 2, column 1: not valid YAML: Map keys must be unique`)
  ;({ file } = await config(t, 'cache_time: 2\ngroups:\n  web-stack:\n    - tcp/5432\n    - htp/8080/health\n'))
  assert.equal(await failsWithOneLine(['-c', file, '-p', '0', '--spool-root', join(dir, 's')], 2),
    `hacheck: config error: groups.web-stack[1] "htp/8080/health": unknown protocol 'htp'; expected <protocol>/<port>/<query> or script/<name> (in ${file}, line 5)`)
  ;({ file } = await config(t, '# comment\ncache_time: "2s"\n'))
  assert.equal(await failsWithOneLine(['-c', file, '-p', '0', '--spool-root', join(dir, 's')], 2),
    `hacheck: config error in ${file}, line 2: key 'cache_time' must be a number of seconds >= 0, got string "2s"`)
  assert.deepEqual(await readdir(dir), [], 'nothing created')
})
