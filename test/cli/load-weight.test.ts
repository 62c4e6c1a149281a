/** `hastatus` with load weights on: a `LOAD` line per service, from one read of the pressure files. */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runBin, tempDir } from '../helper.js'
import { writePressure } from '../ops/pressure-fixtures.js'

test('hastatus prints LOAD <percent> <service> with its inputs after the state and weight lines; nothing without load weights', async (t) => {
  const dir = await tempDir(t)
  const root = join(dir, 'spool')
  const pressure = join(dir, 'pressure')
  const web = join(dir, 'cgroups', 'web.service')
  await mkdir(root)
  await writePressure(pressure, 'cpu', 37.4)
  await writePressure(pressure, 'memory', 2)
  await writePressure(web, 'cpu.pressure', 80)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, JSON.stringify({ load_weight_sources: ['cpu', 'memory'], pressure_root: pressure, load_weight_cgroups: { web } }))

  assert.equal((await runBin('haweight', ['--spool-root', root, 'api', '50'])).code, 0)
  const r = await runBin('hastatus', ['-c', config, '--spool-root', root, 'api', 'web', 'all'])
  assert.deepEqual([r.code, r.stderr], [0, ''])
  assert.equal(r.stdout, [
    'UP\tapi',
    'WEIGHT\t50\tapi',
    'LOAD\t63\tapi\thost avg10: cpu 37.40, memory 2.00',
    'UP\tweb',
    `LOAD\t20\tweb\tcgroup ${web} avg10: cpu 80.00, memory: pressure file ${join(web, 'memory.pressure')} does not exist`,
    'UP\tall',
    'LOAD\t63\tall\thost avg10: cpu 37.40, memory 2.00',
    ''
  ].join('\n'))

  const none = join(dir, 'nothing')
  await writeFile(config, JSON.stringify({ load_weight_sources: ['cpu'], pressure_root: none }))
  const unusable = await runBin('hastatus', ['-c', config, '--spool-root', root, 'db'])
  assert.deepEqual([unusable.code, unusable.stdout], [0, `UP\tdb\nLOAD\t-\tdb\thost avg10: cpu: pressure file ${join(none, 'cpu')} does not exist\n`], 'no usable source: -, and still up')

  const off = await runBin('hastatus', ['--spool-root', root, 'api'])
  assert.equal(off.stdout, 'UP\tapi\nWEIGHT\t50\tapi\n', 'without load weights: as before')
})
