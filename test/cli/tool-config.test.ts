import assert from 'node:assert/strict'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { checkoutConfig, loadToolConfig } from '../../src/cli/tool-config.js'
import { hasCode } from '../../src/errors.js'
import { ROOT, freePort, runBin, spawnHacheck, tempDir } from '../helper.js'

test('spool root order: --spool-root, then $HACHECK_SPOOL_ROOT, then spool_root of the config, then the default', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, 'spool_root: /srv/from-config\n')
  const none = { checkout: null }
  let tool = await loadToolConfig({ configFile: config, spoolRoot: '/srv/flag' }, { HACHECK_SPOOL_ROOT: '/srv/env' }, none)
  assert.deepEqual(tool.spoolRoot, { root: '/srv/flag', from: '--spool-root' })
  tool = await loadToolConfig({ configFile: config }, { HACHECK_SPOOL_ROOT: '/srv/env' }, none)
  assert.deepEqual(tool.spoolRoot, { root: '/srv/env', from: '$HACHECK_SPOOL_ROOT' })
  tool = await loadToolConfig({ configFile: config }, {}, none)
  assert.deepEqual(tool.spoolRoot, { root: '/srv/from-config', from: `spool_root in ${config}` })
  tool = await loadToolConfig({}, {}, none)
  assert.deepEqual(tool.spoolRoot, { root: '/var/spool/hacheck', from: 'the default' })
  assert.equal(tool.loaded.source, 'defaults')
})

test('config file order: -c, then $HACHECK_CONFIG, then the checkout\'s config/dev.yaml, then none', async (t) => {
  const dir = await tempDir(t)
  const files = { flag: join(dir, 'flag.yaml'), env: join(dir, 'env.yaml'), checkout: join(dir, 'dev.yaml') }
  for (const [name, file] of Object.entries(files)) await writeFile(file, `spool_root: /srv/${name}\n`)
  const env = { HACHECK_CONFIG: files.env }
  assert.equal((await loadToolConfig({ configFile: files.flag }, env, { checkout: files.checkout })).spoolRoot.root, '/srv/flag')
  assert.equal((await loadToolConfig({}, env, { checkout: files.checkout })).spoolRoot.root, '/srv/env')
  assert.equal((await loadToolConfig({}, {}, { checkout: files.checkout })).spoolRoot.root, '/srv/checkout')
  assert.equal((await loadToolConfig({}, { HACHECK_CONFIG: '' }, { checkout: null })).loaded.source, 'defaults')
  await assert.rejects(loadToolConfig({ configFile: join(dir, 'missing.yaml') }, {}, { checkout: null }), (err: Error) => hasCode(err, 'HC_ERR_CONFIG'))
  await assert.rejects(loadToolConfig({}, { HACHECK_CONFIG: join(dir, 'missing.yaml') }, { checkout: null }),
    (err: Error) => hasCode(err, 'HC_ERR_CONFIG') && /^cannot read config file .*missing\.yaml: .* \(from \$HACHECK_CONFIG\)$/.test(err.message))
})

test('a relative spool_root is relative to the config file, wherever the tool runs', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'etc'))
  await writeFile(join(dir, 'etc', 'h.yaml'), 'spool_root: ../spool\n')
  const tool = await loadToolConfig({ configFile: join(dir, 'etc', 'h.yaml') }, {}, { checkout: null })
  assert.equal(tool.spoolRoot.root, join(dir, 'spool'))
})

test('a source checkout is found by its src/ and config/dev.yaml; a packed install has neither', async (t) => {
  assert.equal(checkoutConfig(ROOT), join(ROOT, 'config', 'dev.yaml'))
  const dir = await tempDir(t)
  assert.equal(checkoutConfig(dir), undefined)
  await mkdir(join(dir, 'config'))
  await writeFile(join(dir, 'config', 'dev.yaml'), '')
  assert.equal(checkoutConfig(dir), undefined, 'config/dev.yaml alone (a copied config folder) is not a checkout')
  await mkdir(join(dir, 'src'))
  assert.equal(checkoutConfig(dir), join(dir, 'config', 'dev.yaml'))
})

test('the tools find the server\'s spool through -c and $HACHECK_CONFIG, without --spool-root', async (t) => {
  const dir = await tempDir(t)
  const spool = join(dir, 'spool')
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, `spool_root: ${spool}\n`)
  const port = await freePort()
  await spawnHacheck(t, ['-c', config], { ports: [port] })
  const url = `http://127.0.0.1:${port}/spool/web/0/`

  assert.equal((await runBin('hadown', ['-c', config, '-r', 'via -c', 'web'])).code, 0)
  assert.equal((await fetch(url)).status, 503)
  let r = await runBin('hastatus', ['web'], { HACHECK_CONFIG: config })
  assert.deepEqual([r.code, r.stdout], [1, 'DOWN\tinf\tweb\tvia -c\n'])
  r = await runBin('hashowdowned', [], { HACHECK_CONFIG: config })
  assert.deepEqual([r.code, r.stdout], [0, 'DOWN\tinf\tweb\tvia -c\n'])
  assert.equal((await runBin('haup', ['web'], { HACHECK_CONFIG: config })).code, 0)
  assert.equal((await fetch(url)).status, 200)
})

test('$HACHECK_SPOOL_ROOT reaches a server started with it; it beats the config for the server too', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, `spool_root: ${join(dir, 'not-this')}\n`)
  const spool = join(dir, 'spool')
  const port = await freePort()
  await spawnHacheck(t, ['-c', config], { ports: [port], env: { HACHECK_SPOOL_ROOT: spool } })
  assert.equal((await runBin('hadown', ['-r', 'env', 'web'], { HACHECK_SPOOL_ROOT: spool })).code, 0)
  assert.equal((await fetch(`http://127.0.0.1:${port}/spool/web/0/`)).status, 503)
  assert.deepEqual((await readdir(dir)).sort(), ['hacheck.yaml', 'spool'])
})

test('read-only tools on a spool root that does not exist say so and exit 1, never UP', async (t) => {
  const missing = join(await tempDir(t), 'nowhere')
  for (const [prog, args] of [['hastatus', ['web']], ['hashowdowned', []]] as const) {
    let r = await runBin(prog, ['--spool-root', missing, ...args])
    assert.equal(r.code, 1, prog)
    assert.equal(r.stdout, '', `${prog} prints no UP line`)
    assert.match(r.stderr, new RegExp(`^${prog}: spool root ${missing} \\(from --spool-root\\) does not exist: is hacheck's spool elsewhere\\? Give --spool-root, -c FILE or HACHECK_SPOOL_ROOT\\n$`))
    r = await runBin(prog, args, { HACHECK_SPOOL_ROOT: missing })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /\(from \$HACHECK_SPOOL_ROOT\) does not exist/)
  }
  const r = await runBin('hastatus', ['--spool-root', join(ROOT, 'package.json'), 'web'])
  assert.deepEqual([r.code, r.stdout], [1, ''])
  assert.match(r.stderr, /is not a directory/)
})
