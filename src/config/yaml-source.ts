/**
 * A config file's text as YAML, with the positions the `yaml` library keeps: a syntax error
 * names the file, line and column; a key or entry that fails validation can be traced back to
 * its line (docs/configuration.md). Pure: no I/O.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml'
import { HC_ERR_CONFIG } from '../errors.js'
import type { ConfigPath } from './schema.js'

/** A parsed config file. */
export interface YamlSource {
  /** The document as plain data (`undefined` for an empty file). */
  value: unknown
  /** The parser's warnings, each naming the file and line. */
  warnings: string[]
  /** The line (1-based) where a key path is written; the nearest written ancestor's line for a path that is partly absent; undefined for the empty path. */
  lineOf: (path: ConfigPath) => number | undefined
}

/** The first line of a parser message (the library may add context lines). */
const firstLine = (message: string): string => message.split('\n', 1)[0]?.replace(/[:.]?\s*$/, '') ?? message

/**
 * Parses YAML text.
 *
 * @param file - the file name for messages.
 * @throws HC_ERR_CONFIG `config file <file>, line N, column C: not valid YAML: <why>` for the
 *   first syntax error (duplicate keys included), or without a position when the document
 *   cannot be turned into data (too many aliases).
 */
export function parseYamlSource (text: string, file: string): YamlSource {
  const counter = new LineCounter()
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false })
  const at = (offset: number): string => {
    const { line, col } = counter.linePos(offset)
    return `${file}, line ${line}, column ${col}`
  }
  const error = doc.errors[0]
  if (error !== undefined) throw new HC_ERR_CONFIG(`config file ${at(error.pos[0])}: not valid YAML: ${firstLine(error.message)}`)
  let value: unknown
  try {
    value = doc.toJS()
  } catch (err) {
    throw new HC_ERR_CONFIG(`config file ${file} is not valid YAML: ${firstLine((err as Error).message)}`)
  }
  const warnings = doc.warnings.map((w) => `YAML warning in ${at(w.pos[0])}: ${firstLine(w.message)}`)
  const lineOf = (path: ConfigPath): number | undefined => {
    let node: unknown = doc.contents
    let written: Node | undefined
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
        if (pair === undefined) break
        written = pair.key as Node
        node = pair.value
      } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
        node = node.items[segment]
        written = node as Node
      } else {
        break
      }
    }
    const offset = written?.range?.[0]
    return offset === undefined ? undefined : counter.linePos(offset).line
  }
  return { value, warnings, lineOf }
}
