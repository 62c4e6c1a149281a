import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildConfig, loadConfig, makeConfig } from '../../src/config/index.js'
import { hasCode } from '../../src/errors.js'
import { tempDir } from '../helper.js'

test('load weights are off by default: no settings derived', () => {
  assert.equal(makeConfig().loadWeight, null)
  assert.equal(makeConfig({ load_weight_window: 'avg60', load_weight_floor: 20 }).loadWeight, null, 'tuning keys alone turn nothing on')
})

test('load-weight keys from a file become the sampler\'s settings', async (t) => {
  const file = join(await tempDir(t), 'load.yaml')
  await writeFile(file, [
    'load_weight_sources: [cpu, io]',
    'load_weight_window: avg60',
    'load_weight_factor: 1.5',
    'load_weight_floor: 20',
    'load_weight_interval_seconds: 0.5',
    'load_weight_hysteresis: 0',
    'pressure_root: /run/test/pressure',
    'load_weight_cgroups:',
    '  web: /sys/fs/cgroup/system.slice/web.service',
    '  api.v2: /sys/fs/cgroup/system.slice/api.service',
    ''
  ].join('\n'))
  const { config, warnings } = await loadConfig(file)
  assert.deepEqual(warnings, [])
  assert.deepEqual(config.loadWeight, {
    sources: ['cpu', 'io'],
    window: 'avg60',
    factor: 1.5,
    floor: 20,
    hysteresis: 0,
    intervalMs: 500,
    pressureRoot: '/run/test/pressure',
    cgroups: new Map([['web', '/sys/fs/cgroup/system.slice/web.service'], ['api.v2', '/sys/fs/cgroup/system.slice/api.service']])
  })
})

test('each load-weight key is validated; a bad value names the key and what it must be', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['load_weight_sources', ['cpu', 'disk'], /must be a list of pressure resources .*: item 2 \("disk"\) is not cpu, memory or io/],
    ['load_weight_sources', ['cpu', 'cpu'], /load_weight_sources' must be a list of pressure resources/],
    ['load_weight_sources', 'cpu', /load_weight_sources' must be a list/],
    ['load_weight_window', 'avg5', /load_weight_window' must be avg10, avg60 or avg300/],
    ['load_weight_window', 'full', /load_weight_window' must be avg10/],
    ['load_weight_factor', 0, /load_weight_factor' must be a number > 0 and <= 100/],
    ['load_weight_factor', -1, /load_weight_factor' must be/],
    ['load_weight_factor', 101, /load_weight_factor' must be/],
    ['load_weight_floor', 0, /load_weight_floor' must be a percentage 1-100/],
    ['load_weight_floor', 101, /load_weight_floor' must be/],
    ['load_weight_floor', 12.5, /load_weight_floor' must be/],
    ['load_weight_interval_seconds', 0.05, /load_weight_interval_seconds' must be seconds 0.1-3600/],
    ['load_weight_interval_seconds', 7200, /load_weight_interval_seconds' must be/],
    ['load_weight_hysteresis', -1, /load_weight_hysteresis' must be percentage points 0-100/],
    ['load_weight_hysteresis', 2.5, /load_weight_hysteresis' must be/],
    ['pressure_root', 'proc/pressure', /pressure_root' must be an absolute directory path/],
    ['pressure_root', '', /pressure_root' must be/],
    ['pressure_root', '/proc/\u0000pressure', /pressure_root' must be/],
    ['pressure_root', null, /pressure_root' must be/],
    ['load_weight_cgroups', { web: 'system.slice/web.service' }, /load_weight_cgroups' must be a mapping .*: entry web \("system.slice\/web.service"\) is not an absolute directory path/],
    ['load_weight_cgroups', { 'a/b': '/sys/fs/cgroup/x' }, /load_weight_cgroups' must be a mapping .*: entry "a\/b" is not a service name/],
    ['load_weight_cgroups', ['/sys/fs/cgroup/x'], /load_weight_cgroups' must be a mapping/],
    ['load_weight_cgroups', Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`s${i}`, '/x'])), /load_weight_cgroups' must be a mapping of at most 256 service names/]
  ]
  for (const [key, value, message] of bad) {
    assert.throws(() => buildConfig({ load_weight_sources: ['cpu'], [key]: value }, 'f.yaml'),
      (err: Error) => hasCode(err, 'HC_ERR_CONFIG') && message.test(err.message) && err.message.includes('f.yaml'), `${key}: ${JSON.stringify(value)?.slice(0, 60)}`)
  }
})

test('across keys: cgroups without a source to read, and a cgroup for all, are refused', () => {
  assert.throws(() => buildConfig({ load_weight_cgroups: { web: '/sys/fs/cgroup/web' } }, 'f.yaml'),
    (err: Error) => hasCode(err, 'HC_ERR_CONFIG') && /load_weight_cgroups is set but load_weight_sources is empty/.test(err.message) && err.message.includes('(in f.yaml)'))
  assert.throws(() => buildConfig({ load_weight_sources: ['cpu'], load_weight_cgroups: { all: '/sys/fs/cgroup' } }, 'f.yaml'),
    /load_weight_cgroups cannot name all: the whole host's pressure is read from pressure_root/)
})
