/**
 * `npm run docs`: regenerates the parts of docs/ that are derived from the source (the
 * configuration reference's key tables, the error code table). Run after changing a config
 * key spec or an error in src/errors.ts.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { withConfigTables } from './docs-config.js'
import { withErrorTable } from './docs-errors.js'

const configDoc = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url))
await writeFile(configDoc, withConfigTables(await readFile(configDoc, 'utf8')))
process.stdout.write(`wrote ${configDoc}\n`)

const errorsDoc = fileURLToPath(new URL('../../docs/errors.md', import.meta.url))
const errorsSource = await readFile(fileURLToPath(new URL('../../src/errors.ts', import.meta.url)), 'utf8')
await writeFile(errorsDoc, withErrorTable(await readFile(errorsDoc, 'utf8'), errorsSource))
process.stdout.write(`wrote ${errorsDoc}\n`)
