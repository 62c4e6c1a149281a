/**
 * What every command in bin/ does first: load its compiled module from dist/. Run from a source
 * checkout before `npm run build` (or before `npm ci`), a command prints one line saying what
 * to run, instead of Node's stack trace, and exits 1.
 */
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')

/**
 * Imports `url`, a module under dist/.
 *
 * @param {string} prog - the command's name, for the message.
 * @param {URL} url - the compiled module.
 */
export async function loadBuilt (prog, url) {
  try {
    return await import(url.href)
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    const missing = /Cannot find package '([^']+)'/.exec(String(err.message))
    const hint = missing === null
      ? `hacheck is not built here: run npm run build in ${ROOT} (npm ci first in a fresh clone)`
      : `a dependency is not installed (${missing[1]}): run npm ci in ${ROOT}`
    process.stderr.write(`${prog}: ${hint}\n`)
    process.exit(1)
  }
}
