/**
 * Installing as a user does: `npm pack` on an unbuilt clone ships a built `dist/` (prepack),
 * `npm install -g` from the tarball puts every command on PATH, and its man page beside them,
 * and they run from there.
 * And `npm start`'s build step rebuilds only when a source changed.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { ROOT, tempDir } from '../helper.js'
import { copyCheckout, runIn, userEnv } from './checkout.js'

/** Every command package.json declares (nine: the server, the spool tools, haactivate/hainactivate). */
const COMMANDS = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin).sort()
const TEN_MINUTES = 10 * 60 * 1000

test('npm pack on an unbuilt clone ships dist/; npm install -g from the tarball puts every bin command on PATH', { timeout: TEN_MINUTES }, async (t) => {
  const clone = await copyCheckout(t, { built: false })
  const out = await tempDir(t, 'hacheck-pack-')
  assert.ok(!existsSync(join(clone, 'dist')), 'the clone is unbuilt')

  const pack = await runIn(clone, 'npm', ['pack', '--pack-destination', out, '--json'], { timeoutMs: 5 * 60 * 1000 })
  assert.equal(pack.code, 0, pack.stderr)
  const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = new Set(packed?.files.map((f) => f.path))
  for (const file of ['dist/src/cli/hacheck.js', 'dist/src/cli/haupdown.js', 'dist/src/cli/container-health.js', 'config/hacheck.yaml', ...COMMANDS.map((c) => `bin/${c}`), ...COMMANDS.map((c) => `dist/man/${c}.1`)]) {
    assert.ok(files.has(file), `the tarball holds ${file}`)
  }
  assert.ok(COMMANDS.length >= 9, COMMANDS.join(' '))
  for (const file of files) {
    // The status page's static files are read from src/ at run time; no other source is packed.
    if (file.startsWith('src/http/page/static/')) continue
    assert.doesNotMatch(file, /^(src|test|bench|dist\/test|dist\/bench)\/|^config\/dev\.yaml$/, `${file} is not packed`)
  }

  const prefix = join(out, 'prefix')
  const install = await runIn(out, 'npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', join(out, packed?.filename ?? '')], { timeoutMs: 5 * 60 * 1000 })
  assert.equal(install.code, 0, install.stderr)
  assert.deepEqual((await readdir(join(prefix, 'bin'))).sort(), COMMANDS)
  // package.json "man": a page for every command, where man(1) looks beside the prefix's bin/.
  assert.deepEqual((await readdir(join(prefix, 'share', 'man', 'man1'))).sort(), COMMANDS.map((c) => `${c}.1`))

  // From the prefix, as a user's PATH finds them, run from an unrelated directory.
  const env = userEnv({ PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` })
  const help = await runIn(out, 'hadown', ['--help'], { env })
  assert.equal(help.code, 0, help.stderr)
  assert.match(help.stdout, /^usage: hadown .*\n[\s\S]*^ +-e, --expiration WHEN /m)
  const version = await runIn(out, 'hacheck', ['--version'], { env })
  assert.deepEqual([version.code, version.stdout], [0, 'hacheck 0.1.0\n'])
  // An installed hacheck is no source checkout: the tools use the reference's default spool.
  if (!existsSync('/var/spool/hacheck')) {
    const status = await runIn(out, 'hastatus', ['web'], { env })
    assert.equal(status.code, 1)
    assert.match(status.stderr, /^hastatus: spool root \/var\/spool\/hacheck \(the default\) does not exist/)
  }
})

test('npm start builds only when stale: a second start rebuilds nothing; an edited source is rebuilt', { timeout: TEN_MINUTES }, async (t) => {
  const clone = await copyCheckout(t, { built: false })
  const js = join(clone, 'dist', 'src', 'version.js')
  let r = await runIn(clone, 'npm', ['run', 'prestart'], { timeoutMs: 5 * 60 * 1000 })
  assert.equal(r.code, 0, r.stderr)
  const built = (await stat(js)).mtimeMs
  assert.ok(!existsSync(join(clone, 'dist', 'test')), 'npm start builds src/ only')

  r = await runIn(clone, 'npm', ['run', 'prestart'], { timeoutMs: 5 * 60 * 1000 })
  assert.equal(r.code, 0, r.stderr)
  assert.equal((await stat(js)).mtimeMs, built, 'up to date: nothing written')

  const later = new Date(Date.now() + 5000)
  await utimes(join(clone, 'src', 'version.ts'), later, later)
  r = await runIn(clone, 'npm', ['run', 'prestart'], { timeoutMs: 5 * 60 * 1000 })
  assert.equal(r.code, 0, r.stderr)
  assert.notEqual((await stat(js)).mtimeMs, built, 'an edited source is rebuilt')
})
