/**
 * (ours) The status page's static files (`static/`: `index.html`, `app.js`, `style.css`), read
 * once at start-up and kept in memory with a content hash each.
 *
 * tsc copies no non-TS file, so they are read from the source folder, which ships in the npm
 * package, the Debian package and so the Docker image (package.json "files",
 * packaging/build-deb.sh): `src/http/page/static/`
 * found from this module's own location, whether it runs as compiled
 * (`dist/src/http/page/assets.js`) or from a copy with the folder beside it.
 *
 * `index.html` names the other files as `{{app.js}}` / `{{style.css}}` placeholders, replaced by
 * `/page/<file>?v=<hash>`, so a browser may cache an asset for a year and a new version is a
 * new URL.
 *
 * Imports no Fastify.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { HC_ERR_PAGE_ASSET, HC_ERR_PAGE_FILES } from '../../errors.js'

/** One file as served. */
export interface PageAsset {
  readonly body: Buffer
  readonly contentType: string
  /** First 16 hex digits of the SHA-256 of `body`. */
  readonly hash: string
  /** `"<hash>"`. */
  readonly etag: string
}

/** The page's files: the HTML and the assets it names, by file name. */
export interface PageAssets {
  readonly index: PageAsset
  readonly files: ReadonlyMap<string, PageAsset>
}

/** The assets `index.html` may name, with their content types. */
export const ASSET_TYPES: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8'
}

/** Where the files live: beside this module, else in the source tree (this module compiled under dist/). */
const CANDIDATE_DIRS = [
  new URL('./static/', import.meta.url),
  new URL('../../../../src/http/page/static/', import.meta.url)
]

function asset (body: Buffer, contentType: string): PageAsset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16)
  return { body, contentType, hash, etag: `"${hash}"` }
}

/** The first candidate folder that holds `index.html`. */
async function findDir (): Promise<string> {
  for (const url of CANDIDATE_DIRS) {
    const dir = fileURLToPath(url)
    if (await stat(`${dir}index.html`).then((s) => s.isFile(), () => false)) return dir
  }
  throw new HC_ERR_PAGE_FILES(CANDIDATE_DIRS.map((u) => fileURLToPath(u)).join(' or '))
}

/**
 * Reads the page's files into memory.
 *
 * @param dir - the folder (ending in `/`); found from this module's location by default.
 * @throws when a file is missing (the read's error) or HC_ERR_PAGE_ASSET when `index.html` names an unknown asset.
 */
export async function loadPageAssets (dir?: string): Promise<PageAssets> {
  const root = dir ?? await findDir()
  const files = new Map<string, PageAsset>()
  for (const [name, type] of Object.entries(ASSET_TYPES)) files.set(name, asset(await readFile(`${root}${name}`), type))
  const template = await readFile(`${root}index.html`, 'utf8')
  const html = template.replace(/\{\{([a-z.]+)\}\}/g, (_match, name: string) => {
    const file = files.get(name)
    if (file === undefined) throw new HC_ERR_PAGE_ASSET(name)
    return `/page/${name}?v=${file.hash}`
  })
  return { index: asset(Buffer.from(html, 'utf8'), 'text/html; charset=utf-8'), files }
}

/** Total bytes of the page: the HTML plus every asset. */
export function pageWeight (assets: PageAssets): number {
  let bytes = assets.index.body.length
  for (const file of assets.files.values()) bytes += file.body.length
  return bytes
}
