/**
 * The man pages: written once in docs/man/*.md, rendered by `packaging/build-man.sh` (marked-man),
 * listed in package.json `man` for `npm install -g`. Each renders with `man -l` without a
 * warning, every command has one, and every flag each parser accepts is in its page.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { PRESENCE_FLAGS } from '../../src/cli/haactivate.js'
import { BUDGET_FLAGS } from '../../src/cli/habudget.js'
import { SERVER_FLAGS } from '../../src/cli/server-args.js'
import { toolFlags } from '../../src/cli/tool-args.js'
import type { FlagTable } from '../../src/cli/flags.js'
import { ROOT, runCommand, tempDir } from '../helper.js'

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>, man: string[] }

/** The page that documents each parser. */
const PARSERS: Record<string, FlagTable> = {
  'hacheck.1': SERVER_FLAGS,
  'hadown.1': toolFlags('down'),
  'haactivate.1': PRESENCE_FLAGS,
  'habudget.1': BUDGET_FLAGS
}

/** Roff as plain text: font escapes dropped, `\-` as `-`. */
function plain (roff: string): string {
  return roff.replace(/\\f[BIRP]/g, '').replace(/\\-/g, '-').replace(/\\\|/g, '').replace(/\\\./g, '.')
}

function hasMan (): boolean {
  try {
    execFileSync('man', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

test('man pages: one per command, rendered from docs/man, listed in package.json, every parser flag in its page', { timeout: 120_000 }, async (t) => {
  const out = await tempDir(t, 'hacheck-man-')
  const build = await runCommand('/bin/sh', [join(ROOT, 'packaging', 'build-man.sh'), out], { cwd: ROOT })
  assert.equal(build.code, 0, build.stderr)
  const pages = (await readdir(out)).sort()
  assert.deepEqual(pages, Object.keys(pkg.bin).map((name) => `${name}.1`).sort(), 'a page for every command')
  assert.deepEqual([...pkg.man].sort(), pages.map((page) => `dist/man/${page}`), 'package.json "man" lists them all')

  for (const page of pages) {
    const roff = await readFile(join(out, page), 'utf8')
    const alias = /^\.so man1\/([a-z]+\.1)\n$/.exec(roff)
    if (alias !== null) {
      assert.ok(pages.includes(alias[1] as string), `${page} points to a page that exists`)
      assert.match(plain(await readFile(join(out, alias[1] as string), 'utf8')), new RegExp(`^\\.SH NAME\\n(\\.P\\n)?[a-z, ]*\\b${page.slice(0, -2)}\\b`, 'm'), `${alias[1]} names ${page}`)
      continue
    }
    const text = plain(roff)
    for (const [long, spec] of Object.entries(PARSERS[page] ?? {})) {
      assert.ok(text.includes(`--${long}`), `${page} documents --${long}`)
      if ('short' in spec && spec.short !== undefined) assert.ok(text.includes(`-${spec.short},`), `${page} documents -${spec.short}`)
    }
    assert.ok(PARSERS[page] !== undefined, `${page} is checked against its parser`)
  }

  if (!hasMan()) { t.diagnostic('man (man-db) is not installed: pages not rendered'); return }
  for (const page of Object.keys(PARSERS)) {
    const r = await runCommand('man', ['--warnings', '-l', join(out, page)], { env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' } })
    assert.deepEqual([r.code, r.stderr], [0, ''], `${page} renders without a warning`)
    assert.match(r.stdout, new RegExp(`^${page.slice(0, -2).toUpperCase()}\\(1\\) +hacheck manual`), page)
    assert.match(r.stdout, /\nOPTIONS\n/)
  }
})
