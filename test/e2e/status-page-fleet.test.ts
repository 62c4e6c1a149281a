/**
 * The status page's fleet view in a real browser (Debian's chromium, driven by playwright-core)
 * on two built hacheck hosts sharing a real etcd: services by state counts, expandable to their
 * hosts, following changes live; and the page's actions refused by a disruption budget (409
 * shown) unless "past the budget" is ticked (docs/status-page.md, docs/fleet.md).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startEtcd } from '../etcd.js'
import { HANG_MS, runBin } from '../helper.js'
import { launchBrowser, screenshot, watchPage, type TestBrowser } from './browser.js'
import { codeOf, startFleetHosts, toolConfig } from './fleet.js'

let browser: TestBrowser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser.close() })

test('status page fleet view: counts per service, hosts on click, live; a budget refuses an action until forced', async (t) => {
  const etcd = await startEtcd(t)
  const [h1, h2] = await startFleetHosts(t, [etcd.clientUrl], ['web01', 'web02'], { allow_remote_spool_changes: true })
  assert.ok(h1 !== undefined && h2 !== undefined)
  for (const h of [h1, h2]) assert.equal(await codeOf(h, 'web'), 200)
  const config = await toolConfig(t, [etcd.clientUrl])

  const page = await browser.context.newPage()
  t.after(async () => { await page.close() })
  const watch = watchPage(page)
  const since = Date.now()
  await page.goto(h1.proc.url('/'))
  const summary = page.locator('#fleet tr[data-fleet-service="web"]')
  await summary.locator('td:nth-child(3)', { hasText: /^2$/ }).waitFor({ timeout: HANG_MS }).catch(async (err: unknown) => {
    // What the page read, and what each host logged: enough to tell a publisher from a reader.
    t.diagnostic(`fleet.json: ${await fetch(h1.proc.url('/fleet.json?service=web')).then(async (r) => `${r.status} ${await r.text()}`, String)}`)
    t.diagnostic(`page note: ${await page.locator('#fleet-note').textContent()}`)
    for (const h of [h1, h2]) t.diagnostic(`${h.name} log: ${h.proc.stderr().slice(-3000)}`)
    throw err
  })
  t.diagnostic(`fleet view shows web with 2 hosts up: ${Date.now() - since} ms after opening`)
  assert.equal(await summary.locator('td:nth-child(2)').textContent(), '2', 'hosts')

  await summary.locator('button[data-fleet="web"]').click()
  const hostRow = (host: string): ReturnType<typeof page.locator> => page.locator(`#fleet tr[data-fleet-host="web/${host}"]`)
  await hostRow('web02').locator('.pill', { hasText: /^UP$/ }).waitFor({ timeout: HANG_MS })
  assert.equal(await summary.locator('button').getAttribute('aria-expanded'), 'true')

  const changed = Date.now()
  assert.equal((await runBin('hadown', ['--spool-root', h2.proc.spoolRoot, '-r', '<b>disk</b>', 'web'])).code, 0)
  await hostRow('web02').locator('.pill', { hasText: /^DOWN$/ }).waitFor({ timeout: HANG_MS })
  t.diagnostic(`hadown on web02 shows in web01's fleet view without a reload: ${Date.now() - changed} ms`)
  assert.match(await hostRow('web02').textContent() ?? '', /<b>disk<\/b>/, 'the reason as text')
  assert.equal(await page.locator('#fleet b').count(), 0, 'never markup')
  t.diagnostic(`screenshot: ${await screenshot(page, 'fleet-1-web02-down')}`)

  // web02 is out; with a budget of 1, draining web01 from its page is refused, then forced.
  assert.equal((await runBin('habudget', ['-c', config, 'web', '1'])).code, 0)
  const button = page.locator('#services tbody tr[data-service="web"] button[data-action="drain"]')
  const output = page.locator('#services tbody tr[data-service="web"] td.act output')
  await page.locator('#reason').fill('deploy')
  await button.click()
  await output.filter({ hasText: '409' }).waitFor({ timeout: HANG_MS })
  assert.match(await output.textContent() ?? '', /^drain web: 409 disruption budget of web is 1: taking web01 out would pass it; already out: web02 down/)
  assert.equal(await codeOf(h1, 'web'), 200, 'nothing written')
  await page.locator('#force').check()
  await button.click()
  await output.filter({ hasText: '200' }).waitFor({ timeout: HANG_MS })
  assert.equal(await codeOf(h1, 'web'), 404, 'drained')
  t.diagnostic(`screenshot: ${await screenshot(page, 'fleet-2-forced')}`)
  assert.deepEqual(watch.dialogs, [])
  assert.deepEqual(watch.offLoopback(), [], 'no request leaves loopback')
})
