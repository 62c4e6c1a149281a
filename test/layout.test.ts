/**
 * The source layout holds (STYLE.md "Layout: folders are roles"): few files at the top of
 * `src/`, no oversized file, Fastify only in `http/` and `cli/`, and value imports that go one
 * way down the role order, so a folder can be read without the ones above it.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { test } from 'node:test'
import { ROOT } from './helper.js'

const SRC = join(ROOT, 'src')

/**
 * Each folder's place in the import order (top-level files are leaves). A value import must go
 * to a lower rank or stay in its folder; `import type` may go anywhere (it leaves no runtime
 * edge). The checkers sit below config: the config's one entry point parses agent checks and
 * group members against the registry, and a checker reads the config by type only.
 */
const RANK: Record<string, number> = {
  '.': 0, checkers: 1, config: 2, ops: 3, spool: 4, fleet: 5, checks: 6, agent: 7, http: 8, cli: 9
}
/** Folders that must not import Fastify (the spool tools and checks run without it). */
const NO_FASTIFY = ['config', 'ops', 'spool', 'checkers', 'fleet', 'checks', 'agent']

function sources (dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** The role folder of a file under src/: its first path segment, or '.' at the top. */
function folderOf (file: string): string {
  const parts = relative(SRC, file).split('/')
  return parts.length === 1 ? '.' : parts[0] as string
}

interface Import { spec: string, typeOnly: boolean }

function importsOf (text: string): Import[] {
  const found: Import[] = []
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
    found.push({ spec: m[3] as string, typeOnly: m[2] !== undefined })
  }
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) found.push({ spec: m[1] as string, typeOnly: false })
  return found
}

test('layout: at most 4 files at the top of src/, none over 300 lines', () => {
  const top = readdirSync(SRC).filter((name) => name.endsWith('.ts'))
  assert.ok(top.length <= 4, `top-level files: ${top.join(', ')}`)
  for (const file of sources()) {
    const lines = readFileSync(file, 'utf8').split('\n').length
    assert.ok(lines <= 300, `${relative(ROOT, file)} has ${lines} lines`)
  }
})

test('layout: Fastify is imported only by http/ and cli/', () => {
  for (const file of sources()) {
    if (!NO_FASTIFY.includes(folderOf(file))) continue
    for (const { spec } of importsOf(readFileSync(file, 'utf8'))) {
      assert.ok(!/^(fastify|@fastify\/|fastify-plugin)/.test(spec), `${relative(ROOT, file)} imports ${spec}`)
    }
  }
})

test('layout: value imports go down the role order, and form no cycle', () => {
  const edges = new Map<string, string[]>()
  for (const file of sources()) {
    const from = folderOf(file)
    const targets: string[] = []
    for (const { spec, typeOnly } of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.') || typeOnly) continue
      const target = normalize(join(dirname(file), spec.replace(/\.js$/, '.ts')))
      targets.push(target)
      const to = folderOf(target)
      if (to === from) continue
      assert.ok((RANK[to] ?? Infinity) < (RANK[from] ?? -Infinity),
        `${relative(ROOT, file)} imports ${spec}: ${from}/ may not import ${to}/ (use import type, or move the code down)`)
    }
    edges.set(file, targets)
  }
  // Depth-first search for a cycle among files.
  const state = new Map<string, 'open' | 'done'>()
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return
    assert.notEqual(state.get(file), 'open', `import cycle: ${[...path, file].map((f) => relative(SRC, f)).join(' -> ')}`)
    state.set(file, 'open')
    for (const next of edges.get(file) ?? []) visit(next, [...path, file])
    state.set(file, 'done')
  }
  for (const file of edges.keys()) visit(file, [])
})

test('layout: comments cite the repository\'s own docs, and each cited doc and section exists', () => {
  const docs = new Map<string, string>()
  const headings = (doc: string): string => {
    let text = docs.get(doc)
    if (text === undefined) {
      text = readFileSync(join(ROOT, doc), 'utf8')
      docs.set(doc, text)
    }
    return text
  }
  for (const file of sources()) {
    const text = readFileSync(file, 'utf8')
    const where = relative(ROOT, file)
    // Nothing a newcomer cannot open: no issue numbers, no spec or style guide kept elsewhere.
    assert.doesNotMatch(text, /CONTRACT|[Ii]ssue #?[0-9]|STYLE\.md|\.\.\/shared\//, `${where} cites something outside the repository`)
    for (const m of text.matchAll(/(docs\/[a-z0-9-]+\.md)(?: "([^"]+)")?/g)) {
      const [, doc = '', section] = m
      assert.ok(existsSync(join(ROOT, doc)), `${where} cites ${doc}, which does not exist`)
      if (section !== undefined) {
        assert.match(headings(doc), new RegExp(`^#+ ${section.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\(ours\\))?$`, 'm'), `${where} cites section "${section}" of ${doc}, which has no such heading`)
      }
    }
  }
})
