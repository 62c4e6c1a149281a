/**
 * The docs that are generated from the source are up to date: docs/configuration.md's key
 * tables come from the config key specs (`npm run docs` rewrites them).
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { withConfigTables } from '../scripts/docs-config.js'
import { makeConfig } from '../src/config/index.js'
import { configValues, ROOT } from './helper.js'

test('docs/configuration.md lists every config key as the key specs say (run npm run docs after changing one)', async () => {
  const doc = await readFile(join(ROOT, 'docs', 'configuration.md'), 'utf8')
  assert.equal(doc, withConfigTables(doc), 'docs/configuration.md is out of date: run npm run docs')
  const values = configValues(makeConfig())
  for (const key of Object.keys(values)) assert.match(doc, new RegExp(`^\\| \`${key}\``, 'm'), `${key} is in the reference`)
})
