import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { MAX_PRESSURE_FILE_BYTES, parsePressure, pressurePath, readPressureFile } from '../../src/ops/pressure.js'
import { tempDir } from '../helper.js'
import { pressureText } from './pressure-fixtures.js'

const KERNEL = 'some avg10=0.22 avg60=0.17 avg300=1.11 total=58761459\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'

test('parsePressure reads the kernel format: some and full lines, or some alone (CPU before Linux 5.13)', () => {
  assert.deepEqual(parsePressure(KERNEL), {
    some: { avg10: 0.22, avg60: 0.17, avg300: 1.11, totalUs: 58761459 },
    full: { avg10: 0, avg60: 0, avg300: 0, totalUs: 0 }
  })
  assert.deepEqual(parsePressure('some avg10=100.00 avg60=12.50 avg300=0.01 total=1\n'), {
    some: { avg10: 100, avg60: 12.5, avg300: 0.01, totalUs: 1 },
    full: null
  })
  assert.deepEqual(parsePressure(pressureText(40))?.some.avg10, 40)
})

test('parsePressure is strict: anything but the kernel format is unusable (null), never a guess', () => {
  const bad = [
    '',
    '\n',
    'some avg10=0.22 avg60=0.17 avg300=1.11 total=58761459', // cut before its newline
    'some avg10=0.22 avg60=0.17 avg300=1.11\n', // no total
    'some avg10=0.22 avg60=0.17 total=5\n', // a window missing
    'some avg10=0.2 avg60=0.17 avg300=1.11 total=5\n', // one decimal
    'some avg10=101.00 avg60=0.17 avg300=1.11 total=5\n', // over 100 %
    'some avg10=-1.00 avg60=0.17 avg300=1.11 total=5\n',
    'some avg10=0.22 avg60=0.17 avg300=1.11 total=5 extra=1\n',
    'some  avg10=0.22 avg60=0.17 avg300=1.11 total=5\n',
    'full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n', // full without some
    `${KERNEL}some avg10=0.22 avg60=0.17 avg300=1.11 total=5\n`, // a third line
    'full avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.22 avg60=0.17 avg300=1.11 total=5\n', // order
    'some avg10=0.22 avg60=0.17 avg300=1.11 total=123456789012345678901\n', // total beyond u64 digits
    'some avg10=0.22 avg60=0.17 avg300=1.11 total=99999999999999999999\n', // beyond a safe integer
    'SOME avg10=0.22 avg60=0.17 avg300=1.11 total=5\n',
    'some avg10=0,22 avg60=0.17 avg300=1.11 total=5\n',
    'some avg10=0.22 avg60=0.17 avg300=1.11 total=5\r\n'
  ]
  for (const text of bad) assert.equal(parsePressure(text), null, JSON.stringify(text))
})

test('pressurePath: <dir>/<resource> for the host, <dir>/<resource>.pressure for a cgroup', () => {
  assert.equal(pressurePath('/proc/pressure', 'cpu', 'host'), '/proc/pressure/cpu')
  assert.equal(pressurePath('/sys/fs/cgroup/system.slice/web.service', 'io', 'cgroup'), '/sys/fs/cgroup/system.slice/web.service/io.pressure')
})

test('readPressureFile: a good file is read; missing, malformed, huge, a directory, a symlink and a FIFO are refused with a reason that never quotes the file', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'cpu'), KERNEL)
  assert.deepEqual(readPressureFile(join(dir, 'cpu')), { ok: true, pressure: parsePressure(KERNEL) })

  const secret = 'password=hunter2'
  await writeFile(join(dir, 'malformed'), `some ${secret}\n`)
  await writeFile(join(dir, 'huge'), `${KERNEL}${'x'.repeat(MAX_PRESSURE_FILE_BYTES)}`)
  await mkdir(join(dir, 'directory')) // root reads any file whatever its mode: this one cannot be read as a file
  await symlink(join(dir, 'cpu'), join(dir, 'link'))
  execFileSync('mkfifo', [join(dir, 'fifo')])
  const cases: Record<string, RegExp> = {
    missing: /pressure file .*\/missing does not exist$/,
    malformed: /pressure file .*\/malformed is not in the PSI format/,
    huge: new RegExp(`pressure file .*/huge is larger than ${MAX_PRESSURE_FILE_BYTES} bytes$`),
    directory: /pressure file .*\/directory is not a regular file$/,
    link: /pressure file .*\/link is a symbolic link, not a regular file$/,
    // A FIFO with no writer: opened with O_NONBLOCK and refused by its type, never waited on.
    fifo: /pressure file .*\/fifo is not a regular file$/
  }
  for (const [name, reason] of Object.entries(cases)) {
    const read = readPressureFile(join(dir, name))
    assert.equal(read.ok, false, name)
    if (read.ok) continue
    assert.match(read.reason, reason, name)
    assert.ok(!read.reason.includes(secret), `${name}: the reason quotes no content`)
  }
})

test('smoke: the real /proc/pressure/cpu parses where the kernel has PSI', (t) => {
  const path = '/proc/pressure/cpu'
  if (!existsSync(path)) {
    t.skip(`${path} does not exist: this kernel has no PSI (CONFIG_PSI, or psi=0 on its command line)`)
    return
  }
  const read = readPressureFile(path)
  if (!read.ok && /EOPNOTSUPP|ENOTSUP/.test(read.reason)) {
    t.skip(`${path} cannot be read: PSI is disabled at boot (${read.reason})`)
    return
  }
  assert.equal(read.ok, true, read.ok ? '' : read.reason)
  if (!read.ok) return
  t.diagnostic(`${path}: some avg10=${read.pressure.some.avg10} avg60=${read.pressure.some.avg60} avg300=${read.pressure.some.avg300}`)
  for (const w of ['avg10', 'avg60', 'avg300'] as const) assert.ok(read.pressure.some[w] >= 0 && read.pressure.some[w] <= 100)
})
