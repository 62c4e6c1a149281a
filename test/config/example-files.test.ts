import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { parse } from 'yaml'
import { loadConfig, makeConfig } from '../../src/config/index.js'
import { configValues, ROOT } from '../helper.js'

test('config/hacheck.yaml sets every key to its default, with no mysql credentials (safe for production)', async () => {
  const file = join(ROOT, 'config', 'hacheck.yaml')
  const { config, warnings } = await loadConfig(file)
  assert.deepEqual(warnings, [])
  assert.deepEqual(config, makeConfig())
  const values = configValues(makeConfig())
  assert.deepEqual(Object.keys(parse(await readFile(file, 'utf8')) as object).sort(), Object.keys(values).sort(), 'every key is written out')
  assert.equal(config.mysql_username, null)
  assert.equal(config.mysql_password, null)
})

test('config/dev.yaml (npm start) points at the checkout\'s ./spool and the local MariaDB root', async () => {
  const { config, warnings } = await loadConfig(join(ROOT, 'config', 'dev.yaml'))
  assert.deepEqual(warnings, [])
  assert.deepEqual([config.spool_root, config.mysql_username, config.mysql_password], ['../spool', 'root', ''])
})
