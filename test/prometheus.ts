/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4) for tests: every
 * line must be a `# HELP`/`# TYPE` comment or a sample of a family declared by a `# TYPE` line
 * before it; label values are unescaped; values are Go floats as Prometheus reads them
 * (strconv.ParseFloat, so `NaN`/`Inf` in any case: prom-client writes `Nan`).
 */
import assert from 'node:assert/strict'

/** One sample line. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A metric family: its type and samples (for histograms, the `_bucket`/`_sum`/`_count` lines). */
export interface Family {
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help: string
  samples: Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`)
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*\\})? (\\S+)$`)
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g
const VALUE = /^([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[Nn][Aa][Nn]|[+-]?[Ii][Nn][Ff])$/
const SUFFIXES: Record<Family['type'], string[]> = {
  counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count']
}

function parseValue (text: string): number {
  assert.match(text, VALUE)
  const lower = text.toLowerCase()
  if (lower === 'nan') return Number.NaN
  if (lower.endsWith('inf')) return lower.startsWith('-') ? -Infinity : Infinity
  return Number(text)
}

/** Parses a scrape; throws (assertion) on any line that is not valid exposition format. */
export function parsePrometheus (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline')
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue
    const comment = COMMENT.exec(line)
    if (comment !== null) {
      const [, kind, name = '', rest = ''] = comment
      const family = families.get(name) ?? { type: 'untyped', help: '', samples: [] }
      if (kind === 'HELP') family.help = rest
      else {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest), line)
        family.type = rest as Family['type']
      }
      families.set(name, family)
      continue
    }
    const match = SAMPLE.exec(line)
    assert.ok(match !== null, `not a sample line: ${JSON.stringify(line)}`)
    const [, name = '', labelText = '', valueText = ''] = match
    const labels: Record<string, string> = {}
    for (const [, key = '', raw = ''] of labelText.matchAll(LABEL)) {
      labels[key] = raw.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c))
    }
    const owner = [...families.entries()].find(([base, f]) => SUFFIXES[f.type].some((s) => base + s === name))
    assert.ok(owner !== undefined, `sample ${name} has no # TYPE line before it`)
    owner[1].samples.push({ name, labels, value: parseValue(valueText) })
  }
  return families
}

/** The value of the sample `name` whose labels include `labels`; 0 when there is none. */
export function sampleValue (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  for (const family of families.values()) {
    const found = family.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    if (found !== undefined) return found.value
  }
  return 0
}
