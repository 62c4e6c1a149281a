/**
 * `npm run docs`: regenerates the parts of docs/ that are derived from the source (the
 * configuration reference's key tables). Run after changing a config key spec.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { withConfigTables } from './docs-config.js'

const file = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url))
await writeFile(file, withConfigTables(await readFile(file, 'utf8')))
process.stdout.write(`wrote ${file}\n`)
