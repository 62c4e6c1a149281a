import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseExpiration, parseToolArgs } from '../../src/cli/tool-args.js'
import { hasCode } from '../../src/errors.js'
import { runBin, tempDir } from '../helper.js'

const NOW = 1_800_000_000

const usageError = (pattern: RegExp) => (err: Error): boolean => hasCode(err, 'HC_ERR_USAGE') && pattern.test(err.message)

test('-e takes a relative duration: +30m, +2h, +1d, +90s, +1.5h', () => {
  assert.equal(parseExpiration('+30m', NOW), NOW + 1800)
  assert.equal(parseExpiration('+2h', NOW), NOW + 7200)
  assert.equal(parseExpiration('+1d', NOW), NOW + 86400)
  assert.equal(parseExpiration('+90s', NOW), NOW + 90)
  assert.equal(parseExpiration('+1.5h', NOW), NOW + 5400)
  assert.equal(parseToolArgs(['-r', 'x', '-e', '+2h', 'web'], 'down', NOW).expiration, NOW + 7200)
})

test('-e still takes unix seconds in the future', () => {
  assert.equal(parseExpiration(String(NOW + 1), NOW), NOW + 1)
  assert.equal(parseExpiration('4102444800.5', NOW), 4102444800.5)
})

test('-e in the past (or now) is a usage error saying so', () => {
  assert.throws(() => parseExpiration('1767225600', NOW), usageError(/--expiration 1767225600 \(2026-01-01T00:00:00\.000Z\) is in the past/))
  assert.throws(() => parseExpiration(String(NOW), NOW), usageError(/is in the past/))
  assert.throws(() => parseExpiration('-5', NOW), usageError(/is in the past/))
  assert.throws(() => parseToolArgs(['-r', 'x', '-e', '1', 'web'], 'down', NOW), usageError(/in the past/))
})

test('-e rejects zero, absurd and malformed durations', () => {
  assert.throws(() => parseExpiration('+0m', NOW), usageError(/more than 0/))
  assert.throws(() => parseExpiration('+20000d', NOW), usageError(/at most 10 years/))
  for (const bad of ['+30', '30m', '+m', '+1w', 'tomorrow', '', '+ 5m']) {
    assert.throws(() => parseExpiration(bad, NOW), usageError(/unix seconds or \+N with s, m, h or d/), bad)
  }
})

test('-e is ignored by the other actions, as the reference ignores it', () => {
  assert.equal(parseToolArgs(['-e', '1', 'web'], 'up', NOW).expiration, undefined)
  assert.equal(parseToolArgs(['-e', 'junk', 'web'], 'status', NOW).expiration, undefined)
})

test('status_downed and list take no service names (the reference: "Unexpected args")', () => {
  assert.throws(() => parseToolArgs(['web'], 'status_downed'), usageError(/status_downed takes no service names, got "web"/))
  assert.throws(() => parseToolArgs(['a', 'b'], 'list'), usageError(/list takes no service names, got "a" "b"/))
  assert.throws(() => parseToolArgs(['-a', 'list', 'web'], 'down'), usageError(/list takes no service names/))
  assert.deepEqual(parseToolArgs([], 'status_downed').services, [])
})

test('-c and --spool-root are passed on unresolved; neither has a default here', () => {
  const args = parseToolArgs(['-c', '/etc/h.yaml', 'web'], 'status')
  assert.deepEqual([args.configFile, args.spoolRoot], ['/etc/h.yaml', undefined])
  assert.equal(parseToolArgs(['--config-file', 'x.yaml', '--spool-root', 's', 'web'], 'status').spoolRoot, 's')
})

test('hadown -e in the past exits 2 saying so and writes nothing; -e +30m writes now + 1800 s', async (t) => {
  const root = await tempDir(t)
  let r = await runBin('hadown', ['-r', 'deploy', '-e', '1767225600', '--spool-root', root, 'web'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^hadown: --expiration 1767225600 \(2026-01-01T00:00:00\.000Z\) is in the past: the service would stay up; use a future time such as \+30m\nusage: hadown /)
  assert.deepEqual(await readdir(root), [])

  const before = Date.now() / 1000
  r = await runBin('hadown', ['-r', 'deploy', '-e', '+30m', '--spool-root', root, 'web'])
  const after = Date.now() / 1000
  assert.deepEqual([r.code, r.stderr], [0, ''])
  const { expiration } = JSON.parse(await readFile(join(root, 'web'), 'utf8')) as { expiration: number }
  assert.ok(expiration >= before + 1800 && expiration <= after + 1800, `${expiration} is 30 minutes after ${before}`)
  r = await runBin('hastatus', ['--spool-root', root, 'web'])
  assert.equal(r.code, 1)
  assert.match(r.stdout, /^DOWN\t[0-9]+\.[0-9]{6}\tweb\tdeploy\n$/)
})

test('hashowdowned, halist, -a status_downed and -a list with extra arguments: usage error, exit 2', async (t) => {
  const root = await tempDir(t)
  for (const [prog, args] of [
    ['hashowdowned', ['web']],
    ['halist', ['web']],
    ['hadown', ['-a', 'status_downed', 'web']],
    ['hastatus', ['-a', 'list', 'web']]
  ] as const) {
    const r = await runBin(prog, ['--spool-root', root, ...args])
    assert.equal(r.code, 2, `${prog} ${args.join(' ')}`)
    assert.match(r.stderr, new RegExp(`^${prog}: (status_downed|list) takes no service names, got "web"\\nusage: ${prog} `))
    assert.equal(r.stdout, '')
  }
})

test('hadown --help gives each flag a line', async () => {
  const r = await runBin('hadown', ['--help'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /^usage: hadown /)
  for (const flag of ['-a, --action', '-c, --config-file', '--spool-root', '-r, --reason', '-e, --expiration', '--drain', '--maint',
    '-P, --service-port', '-H, --service-host', '-p, --port', '--clear', '-h, --help']) {
    assert.match(r.stdout, new RegExp(`^ +${flag.replace(/[-,]/g, (c) => `\\${c}`)} `, 'm'), flag)
  }
  assert.match(r.stdout, /web::8080 for the file web:8080/, 'why hashowdowned prints svc::port')
})

test('-e -5m and unknown flags get hacheck\'s own one-line errors (the tools run as a user would)', async () => {
  assert.throws(() => parseToolArgs(['-r', 'x', '-e', '-5m', 'web'], 'down', NOW),
    usageError(/^--expiration -5m is in the past: the service would stay up; a duration counts from now, so write \+5m$/))
  assert.throws(() => parseToolArgs(['-e', '-r', 'x', 'web'], 'down', NOW), usageError(/^-e needs a value, but the next argument is the flag -r$/))
  for (const [args, want] of [
    [['-e', '-5m', '-r', 'x', 'web'], 'hadown: --expiration -5m is in the past: the service would stay up; a duration counts from now, so write +5m'],
    [['--bogus', 'web'], 'hadown: unknown flag --bogus (--help lists the flags)'],
    [['-r'], 'hadown: -r, --reason needs a value'],
    [['--drain=yes', 'web'], 'hadown: --drain takes no value']
  ] as const) {
    const r = await runBin('hadown', ['--spool-root', '/nonexistent-hacheck-spool', ...args])
    assert.equal(r.code, 2, args.join(' '))
    const lines = r.stderr.split('\n')
    assert.equal(lines[0], want)
    assert.match(lines[1] as string, /^usage: hadown /)
    assert.equal(lines.length, 3, r.stderr)
  }
})

test('(ours) --force applies to down only; hastatus --fleet may name no service', () => {
  assert.equal(parseToolArgs(['--force', '-r', 'x', 'web'], 'down', NOW).force, true)
  assert.equal(parseToolArgs(['-r', 'x', 'web'], 'down', NOW).force, false)
  assert.throws(() => parseToolArgs(['--force', 'web'], 'up', NOW), usageError(/^--force only applies to down$/))
  assert.deepEqual(parseToolArgs(['--fleet'], 'status', NOW).services, [])
  assert.throws(() => parseToolArgs([], 'status', NOW), usageError(/^status needs at least one service name$/))
})
