/**
 * Reasons on every output: a spool file's (or a fleet value's) control characters, line breaks
 * and bidi overrides come out escaped, by one function, in HTTP bodies, agent replies, the
 * tools' lines and the status page's data; the tools refuse them in `-r` (exit 2), as POST does.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { formatAgentReply } from '../../src/agent/reply.js'
import { parseFleetSpoolValue } from '../../src/fleet/keys.js'
import { cleanReason } from '../../src/spool/format.js'
import { buildTestApp, tempDir } from '../helper.js'
import { runTool } from '../cli/run-tool.js'

const HOSTILE = 'x\nUP\tpayments\r\u0085\u001b[31m\u202Eevil\u2028'
const CLEAN = 'x\\u{000A}UP\\u{0009}payments\\u{000D}\\u{0085}\\u{001B}[31m\\u{202E}evil\\u{2028}'

test('cleanReason escapes controls, line breaks and bidi overrides, and keeps the rest', () => {
  assert.equal(cleanReason(HOSTILE), CLEAN)
  assert.equal(cleanReason('deploy 42 – café ✓'), 'deploy 42 – café ✓')
  assert.equal(cleanReason('zero\u200Bwidth'), 'zero\\u{200B}width')
  assert.equal(parseFleetSpoolValue(Buffer.from(JSON.stringify({ reason: HOSTILE, set_by: 'a\u202Eb' }))).value.reason, CLEAN)
  assert.equal(parseFleetSpoolValue(Buffer.from(JSON.stringify({ reason: 'r', set_by: 'a\u202Eb\n' }))).value.setBy, 'a\\u{202E}b\\u{000A}')
  assert.doesNotMatch(formatAgentReply({ admin: 'ready', health: 'down', reason: 'a\u202Eb\u0085c' }), /[\u202E\u0085]/)
})

test('a hostile reason in a spool file: escaped in hastatus, hashowdowned, HTTP bodies and the page data', async (t) => {
  const { app, spool } = await buildTestApp(t)
  const root = spool.root
  await writeFile(join(root, 'web'), JSON.stringify({ reason: HOSTILE, expiration: null, creation: 1700000000 }))
  await writeFile(join(root, 'api'), `legacy ${HOSTILE}`)
  let r = await runTool('hastatus', ['--spool-root', root, 'web'])
  assert.deepEqual([r.code, r.stdout], [1, `DOWN\tinf\tweb\t${CLEAN}\n`], 'one line: no forged UP line')
  r = await runTool('hashowdowned', ['--spool-root', root])
  assert.equal(r.stdout.split('\n').filter((l) => l !== '').length, 2)
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(r.stdout, /[\u0000-\u0008\u000b-\u001f\u0085\u202E\u2028]/)

  const res = await app.inject('/spool/web/0/')
  assert.equal(res.body, `Service web in down state since 1700000000.000000: ${CLEAN}`)
  const legacy = await app.inject('/spool/api/0/')
  assert.equal(legacy.body, `Service api in down state: legacy ${CLEAN}`)
  const page = await app.inject('/page/data')
  assert.equal(page.statusCode, 200)
  assert.ok(page.body.includes(JSON.stringify(CLEAN).slice(1, -1)), 'the page data holds the escaped reason')
  assert.doesNotMatch(page.body, /\\u202e|\\n|\\t/i, 'no raw control in the JSON')
})

test('the tools refuse control characters, line breaks and bidi overrides in -r with a usage error (exit 2)', async (t) => {
  const root = await tempDir(t)
  for (const reason of ['x\nUP\tpayments', 'a\u202Eb', 'esc\u001b[2J', 'c1\u0085', 'sep\u2028']) {
    const r = await runTool('hadown', ['-r', reason, '--spool-root', root, 'web'])
    assert.equal(r.code, 2, JSON.stringify(reason))
    assert.match(r.stderr, /--reason must not contain control characters \(U\+[0-9A-F]{4} at position \d+\)/)
  }
  assert.equal((await runTool('hastatus', ['--spool-root', root, 'web'])).code, 0, 'nothing was written')
})
