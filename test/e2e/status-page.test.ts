/**
 * The status page in a real browser (Debian's chromium, driven by playwright-core) on the built
 * `bin/hacheck` as a process, changed with the real spool tools. One browser for the file,
 * a page per test. Screenshots of each state go to test-artifacts/status-page/.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, test, type TestContext } from 'node:test'
import type { Page, Request } from 'playwright-core'
import { HANG_MS, runBin } from '../helper.js'
import { httpUpstream } from '../upstreams.js'
import { launchBrowser, screenshot, watchPage, type PageWatch, type TestBrowser } from './browser.js'
import { startHacheckProcess, type HacheckProcess } from './hacheck-process.js'

const XSS = '<img src=x onerror=alert(1)>'
const TOKEN = 'status-page-test-token-0123456789'
/**
 * Bound on a change showing on the page, without a reload: one for a change that never shows,
 * not a timing (docs/status-page.md says "within about a second"; the time taken is printed).
 */
const LIVE_MS = HANG_MS

let browser: TestBrowser
const started = Date.now()

before(async () => { browser = await launchBrowser() })
after(async () => {
  await browser.close()
  process.stdout.write(`# status page browser tests took ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
})

/** Opens the page of `hc` in a new tab and waits until the first snapshot is rendered. */
async function openPage (t: TestContext, hc: HacheckProcess): Promise<{ page: Page, watch: PageWatch }> {
  const page = await browser.context.newPage()
  t.after(async () => { await page.close() })
  const watch = watchPage(page)
  await page.goto(hc.url('/'))
  await page.locator('#live', { hasText: /^live/ }).waitFor({ timeout: HANG_MS })
  return { page, watch }
}

const row = (page: Page, service: string): ReturnType<Page['locator']> => page.locator(`#services tbody tr[data-service="${service}"]`)

/** Waits (at most `timeoutMs`) until the row's state pill reads `state`; returns how long it took. */
async function rowState (page: Page, service: string, state: string, timeoutMs = LIVE_MS): Promise<number> {
  const since = Date.now()
  await row(page, service).locator('.pill', { hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: timeoutMs })
  return Date.now() - since
}

async function shot (t: TestContext, page: Page, name: string): Promise<void> {
  t.diagnostic(`screenshot: ${await screenshot(page, name)}`)
}

function assertClean (watch: PageWatch, allowedErrors: RegExp[] = []): void {
  assert.deepEqual(watch.errors.filter((e) => !allowedErrors.some((re) => re.test(e))), [], 'no console errors')
  assert.deepEqual(watch.dialogs, [], 'no dialog opened')
  assert.ok(watch.requests.length >= 4, `requests seen: ${watch.requests.join(' ')}`)
  assert.deepEqual(watch.offLoopback(), [], 'no request leaves loopback')
}

async function hastatus (hc: HacheckProcess, service: string): Promise<{ code: number | null, line: string }> {
  const r = await runBin('hastatus', ['--spool-root', hc.spoolRoot, service])
  return { code: r.code, line: r.stdout.trim() }
}

test('status page: hadown with an HTML reason shows DOWN live, as text; no dialog, no console error, nothing leaves loopback', async (t) => {
  const up = await httpUpstream(t)
  const hc = await startHacheckProcess(t)
  assert.equal((await fetch(hc.url(`/http/web/${up.port}/health`))).status, 200)
  const { page, watch } = await openPage(t, hc)
  await rowState(page, 'web', 'UP')
  assert.equal(await page.locator('#actions').isHidden(), true, 'no actions while remote spool changes are off')
  assert.equal(await row(page, 'web').locator('td.act').isHidden(), true)
  await shot(t, page, '1-up')

  assert.equal((await runBin('hadown', ['--spool-root', hc.spoolRoot, '-r', XSS, 'web'])).code, 0)
  const ms = await rowState(page, 'web', 'DOWN')
  t.diagnostic(`DOWN shown ${ms} ms after hadown returned`)
  assert.equal(await row(page, 'web').locator('td.reason .text').textContent(), XSS)
  assert.equal(await page.locator('img').count(), 0, 'the reason is not markup')
  assert.match(await row(page, 'web').locator('td.until').textContent() ?? '', /until undone/)
  await shot(t, page, '2-down-html-reason')

  assert.equal((await runBin('haup', ['--spool-root', hc.spoolRoot, 'web'])).code, 0)
  await rowState(page, 'web', 'UP')
  assert.ok(watch.requests.some((url) => url.endsWith('/page/events')), 'live through server-sent events')
  assertClean(watch)
})

test('status page: a failing upstream shows its check status and transition; filter and sort work', async (t) => {
  const up = await httpUpstream(t)
  // api's own upstream, stopped halfway: its port then refuses connections (L4CON).
  const api = createServer((_req, res) => { res.end('ok') })
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve))
  t.after(() => { api.closeAllConnections(); api.close(() => {}) }) // also when the test fails before stopping it
  const apiPort = (api.address() as AddressInfo).port
  const hc = await startHacheckProcess(t, { config: { cache_time: 0 } })
  await fetch(hc.url(`/http/web/${up.port}/health`))
  assert.equal((await fetch(hc.url(`/http/api/${apiPort}/health`))).status, 200)
  const { page, watch } = await openPage(t, hc)
  await rowState(page, 'api', 'UP')

  api.closeAllConnections()
  await new Promise((resolve) => api.close(resolve))
  assert.equal((await fetch(hc.url(`/http/api/${apiPort}/health`))).status, 503)
  await rowState(page, 'api', 'FAILING')
  assert.equal(await row(page, 'api').locator('td.check').textContent(), 'L4CON')
  assert.equal(await row(page, 'api').locator('td.code').textContent(), '503')
  const transition = page.locator('#transitions tbody tr').first()
  await transition.locator('td.change', { hasText: 'L7OK → L4CON' }).waitFor({ timeout: LIVE_MS })
  assert.match(await transition.textContent() ?? '', /http\/api.*Connection refused/)
  assert.equal(await row(page, 'api').locator('svg.spark circle.fail').count(), 1, 'the failed probe marks the sparkline')
  await shot(t, page, '3-failing-upstream')

  const names = async (): Promise<string[]> => await page.locator('#services tbody tr:not([hidden]) td.name').allTextContents()
  assert.deepEqual(await names(), ['api', 'web'])
  await page.locator('#services th[data-sort="state"] button').click()
  assert.deepEqual(await names(), ['api', 'web'], 'by state: failing before up')
  await page.locator('#services th[data-sort="name"] button').click()
  await page.locator('#services th[data-sort="name"] button').click()
  assert.deepEqual(await names(), ['web', 'api'], 'by name, descending')
  await page.locator('#filter').fill('ap')
  assert.deepEqual(await names(), ['api'])
  assertClean(watch)
})

test('status page: actions with the typed token change the spool (down, drain, up); without it the 401 is shown', async (t) => {
  const hc = await startHacheckProcess(t, { config: { allow_remote_spool_changes: true, remote_spool_token: TOKEN } })
  await fetch(hc.url('/spool/web/0/'))
  const { page, watch } = await openPage(t, hc)
  const posts: Request[] = []
  page.on('request', (request) => { if (request.method() === 'POST') posts.push(request) })
  await rowState(page, 'web', 'UP')
  const button = (action: string): ReturnType<Page['locator']> => row(page, 'web').locator(`button[data-action="${action}"]`)
  const output = row(page, 'web').locator('td.act output')

  await page.locator('#reason').fill('deploy 42')
  await button('down').click()
  await output.filter({ hasText: '401' }).waitFor({ timeout: LIVE_MS })
  assert.match(await output.textContent() ?? '', /^down web: 401 a valid Authorization: Bearer token is required$/)
  assert.match(await page.locator('#action-result').textContent() ?? '', /401/)
  assert.deepEqual(await hastatus(hc, 'web'), { code: 0, line: 'UP\tweb' }, 'refused: the spool is unchanged')
  await shot(t, page, '4-refused-401')

  await page.locator('#token').fill(TOKEN)
  await button('down').click()
  await output.filter({ hasText: '200' }).waitFor({ timeout: LIVE_MS })
  const down = await hastatus(hc, 'web')
  assert.equal(down.code, 1)
  assert.match(down.line, /^DOWN\tinf\tweb\tdeploy 42$/)
  await rowState(page, 'web', 'DOWN')
  await shot(t, page, '5-down-by-click')

  await page.locator('#duration').selectOption('3600')
  await button('drain').click()
  await rowState(page, 'web', 'DRAIN')
  const drained = JSON.parse(await readFile(join(hc.spoolRoot, 'web'), 'utf8')) as { state: string, expiration: number }
  assert.equal(drained.state, 'drain')
  assert.ok(Math.abs(drained.expiration - (Date.now() / 1000 + 3600)) < 60, 'expiry one hour ahead')
  await shot(t, page, '6-drain-by-click')

  await button('up').click()
  await rowState(page, 'web', 'UP')
  assert.deepEqual(await hastatus(hc, 'web'), { code: 0, line: 'UP\tweb' })

  // The token went only as a header, never into a cookie or storage.
  assert.equal(posts[0]?.headers().authorization, undefined)
  assert.equal(posts[1]?.headers().authorization, `Bearer ${TOKEN}`)
  assert.ok(posts.every((p) => p.headers().cookie === undefined))
  assert.deepEqual(await page.evaluate('[document.cookie, localStorage.length, sessionStorage.length]'), ['', 0, 0])
  // The refused POST is the one console error Chromium reports (a failed resource load).
  assertClean(watch, [/status of 401/])
})
