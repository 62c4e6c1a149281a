/**
 * The docs that are generated from the source are up to date: docs/configuration.md's key
 * tables come from the config key specs, docs/errors.md's table from src/errors.ts
 * (`npm run docs` rewrites both).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join, posix } from 'node:path'
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

/** A heading's anchor as GitHub makes it: lower case, punctuation but `-` and `_` dropped, spaces as `-`. */
function slug (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

test('every relative link in README.md and docs/ reaches a file, and its #anchor a heading there', async () => {
  const files = ['README.md', ...(await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
  const anchors = new Map<string, Set<string>>()
  const anchorsOf = async (file: string): Promise<Set<string>> => {
    let set = anchors.get(file)
    if (set === undefined) {
      const text = (await readFile(join(ROOT, file), 'utf8')).replace(/^```[\s\S]*?^```/gm, '')
      set = new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] as string)))
      anchors.set(file, set)
    }
    return set
  }
  const broken: string[] = []
  for (const file of files) {
    const text = (await readFile(join(ROOT, file), 'utf8')).replace(/^```[\s\S]*?^```/gm, '')
    for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue // http:, https:, mailto:
      const [path = '', anchor] = target.split('#')
      const resolved = path === '' ? file : posix.normalize(posix.join(posix.dirname(file), path))
      if (!existsSync(join(ROOT, resolved))) { broken.push(`${file}: ${target} (no ${resolved})`); continue }
      if (anchor !== undefined && resolved.endsWith('.md') && !(await anchorsOf(resolved)).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor})`)
    }
  }
  assert.deepEqual(broken, [])
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
