/**
 * The docs that are generated from the source are up to date: docs/configuration.md's key
 * tables come from the config key specs, docs/errors.md's table from src/errors.ts
 * (`npm run docs` rewrites both).
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { withConfigTables } from '../scripts/docs-config.js'
import { errorCodes, errorDocs, withErrorTable } from '../scripts/docs-errors.js'
import { makeConfig } from '../src/config/index.js'
import { configValues, ROOT } from './helper.js'

test('docs/configuration.md lists every config key as the key specs say (run npm run docs after changing one)', async () => {
  const doc = await readFile(join(ROOT, 'docs', 'configuration.md'), 'utf8')
  assert.equal(doc, withConfigTables(doc), 'docs/configuration.md is out of date: run npm run docs')
  const values = configValues(makeConfig())
  for (const key of Object.keys(values)) assert.match(doc, new RegExp(`^\\| \`${key}\``, 'm'), `${key} is in the reference`)
})

test('docs/errors.md lists every HC_ERR_ code of src/errors.ts with its template (run npm run docs after changing one)', async () => {
  const doc = await readFile(join(ROOT, 'docs', 'errors.md'), 'utf8')
  const source = await readFile(join(ROOT, 'src', 'errors.ts'), 'utf8')
  assert.equal(doc, withErrorTable(doc, source), 'docs/errors.md is out of date: run npm run docs')
  const codes = errorCodes()
  assert.ok(codes.length > 30, `${codes.length} codes found`)
  const docs = errorDocs(source)
  for (const code of codes) {
    assert.match(doc, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `${code} is in docs/errors.md`)
    assert.notEqual(docs.get(code), '', `${code} has TSDoc saying when it is thrown`)
  }
})
