/**
 * A real browser for the status page tests: Debian's chromium driven by playwright-core, headless,
 * with a fresh temporary profile, plus a watch on what a page does (console errors, uncaught
 * exceptions, dialogs, every request it makes) and screenshots saved as test artifacts.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { ROOT } from '../helper.js'

/** Where screenshots go (gitignored). */
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'status-page')

/** The chromium flags every test uses: headless, no sandbox, nothing that calls home. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

/** One browser (a persistent context on a temp profile); several pages may be opened on it. */
export interface TestBrowser {
  context: BrowserContext
  close: () => Promise<void>
}

/** Launches /usr/bin/chromium with a fresh `--user-data-dir`, removed on close. */
export async function launchBrowser (viewport = { width: 1400, height: 800 }): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'hacheck-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport
  })
  return {
    context,
    close: async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    }
  }
}

/** What a page did. */
export interface PageWatch {
  /** Console messages of type error, and uncaught exceptions. */
  errors: string[]
  /** Messages of dialogs (alert, confirm, prompt) that opened; each is dismissed. */
  dialogs: string[]
  /** Every URL the page requested. */
  requests: string[]
  /** Requests that went anywhere but loopback over http(s) (data: URLs are not network). */
  offLoopback: () => string[]
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost'])

/** Starts watching a page (before it navigates). */
export function watchPage (page: Page): PageWatch {
  const watch: PageWatch = {
    errors: [],
    dialogs: [],
    requests: [],
    offLoopback: () => watch.requests.filter((url) => {
      const u = new URL(url)
      if (u.protocol === 'data:') return false
      return !(u.protocol === 'http:' || u.protocol === 'https:') || !LOOPBACK.has(u.hostname)
    })
  }
  page.on('console', (msg) => { if (msg.type() === 'error') watch.errors.push(msg.text()) })
  page.on('pageerror', (err) => { watch.errors.push(`uncaught: ${err.message}`) })
  page.on('dialog', (dialog) => {
    watch.dialogs.push(dialog.message())
    dialog.dismiss().catch(() => {})
  })
  page.on('request', (request) => { watch.requests.push(request.url()) })
  return watch
}

/** Saves a full-page screenshot as `<ARTIFACTS>/<name>.png` and returns its path. */
export async function screenshot (page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}
