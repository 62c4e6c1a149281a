/**
 * The status page on a first day: no sideways scrolling of the page at 375, 760 and 1280 px;
 * the reference's raw bodies with readable dates beside them; a last answer given before a
 * spool change is marked as such, not shown as current; and the documented screenshot
 * commands (`/?once`) finish. Real Chromium (playwright-core) and the built `bin/hacheck`.
 */
import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test, type TestContext } from 'node:test'
import type { Page } from 'playwright-core'
import { ROOT, runBin, runCommand, tempDir } from '../helper.js'
import { httpUpstream } from '../upstreams.js'
import { CHROMIUM_ARGS, launchBrowser, screenshot, watchPage, type PageWatch, type TestBrowser } from './browser.js'
import { startHacheckProcess, type HacheckProcess } from './hacheck-process.js'

const TOKEN = 'status-page-layout-token-0123456789'
const LIVE_MS = 5000

let browser: TestBrowser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser.close() })

/** Opens the page of `hc` in a new tab and waits for the first snapshot. */
async function openPage (t: TestContext, hc: HacheckProcess): Promise<{ page: Page, watch: PageWatch }> {
  const page = await browser.context.newPage()
  t.after(async () => { await page.close() })
  const watch = watchPage(page)
  await page.goto(hc.url('/'))
  await page.locator('#live', { hasText: /^live/ }).waitFor({ timeout: LIVE_MS })
  return { page, watch }
}

function assertClean (watch: PageWatch): void {
  assert.deepEqual(watch.errors, [], 'no console errors')
  assert.deepEqual(watch.dialogs, [], 'no dialog opened')
  assert.deepEqual(watch.offLoopback(), [], 'no request leaves loopback')
}

const row = (page: Page, service: string): ReturnType<Page['locator']> => page.locator(`#services tbody tr[data-service="${service}"]`)

test('no horizontal overflow at 375, 760 and 1280 px, with long names, reasons and transitions', async (t) => {
  const up = await httpUpstream(t)
  const hc = await startHacheckProcess(t, { config: { allow_remote_spool_changes: true, remote_spool_token: TOKEN } })
  const long = 'payments-gateway-eu-west-1-canary-with-a-very-long-service-name'
  await runBin('hadown', ['--spool-root', hc.spoolRoot, '-r', `kernel upgrade and reboot by the ops team, ticket OPS-4812, ${'x'.repeat(120)}`, '-e', '+2h', long])
  for (const path of [`/http/web/${up.port}/health`, `/tcp/${long}/1/`, '/tcp/ledger/1/', `/spool/${long}/0/`]) await (await fetch(hc.url(path))).arrayBuffer()
  const { page, watch } = await openPage(t, hc)
  await row(page, long).waitFor({ timeout: LIVE_MS })
  for (const width of [375, 760, 1280]) {
    await page.setViewportSize({ width, height: 800 })
    const [scrollWidth, innerWidth] = await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]') as [number, number]
    t.diagnostic(`${width} px: scrollWidth ${scrollWidth}, innerWidth ${innerWidth}; ${await screenshot(page, `layout-${width}`)}`)
    assert.ok(scrollWidth <= innerWidth, `${width} px: the page is ${scrollWidth} px wide`)
  }
  assertClean(watch)
})

test('a transition\'s body is the reference\'s, with its unix times as dates beside it', async (t) => {
  const up = await httpUpstream(t)
  const hc = await startHacheckProcess(t, { config: { cache_time: 0 } })
  assert.equal((await fetch(hc.url(`/http/web/${up.port}/health`))).status, 200)
  await runBin('hadown', ['--spool-root', hc.spoolRoot, '-r', 'deploy', '-e', '+1h', 'web'])
  const body = await (await fetch(hc.url(`/http/web/${up.port}/health`))).text()
  const times = /since ([0-9.]+) until ([0-9.]+)/.exec(body)
  assert.ok(times !== null, body)
  const { page, watch } = await openPage(t, hc)
  const msg = page.locator('#transitions tbody tr td.msg').first()
  await msg.waitFor({ timeout: LIVE_MS })
  const raw = await msg.evaluate((td) => td.firstChild?.textContent)
  const when = await msg.locator('.when').textContent()
  assert.equal(raw, body, 'the raw body, as the reference writes it')
  // The dates as the browser writes them in its own locale and time zone.
  const format = "new Intl.DateTimeFormat(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })"
  const dates = await page.evaluate(`[${times[1] ?? ''}, ${times[2] ?? ''}].map((s) => ${format}.format(new Date(s * 1000)))`) as string[]
  assert.ok(dates.every((d) => /[0-9]{4}/.test(d) && /[0-9]{2}:[0-9]{2}:[0-9]{2}/.test(d)), dates.join(' '))
  t.diagnostic(`${raw ?? ''}${when ?? ''}`)
  assert.equal(when, ` (since ${dates[0] ?? ''}, until ${dates[1] ?? ''})`)
  assertClean(watch)
})

test('a service downed from the page shows its last answer as earlier, not current; and after up, no FAILING from the spool\'s own 503', async (t) => {
  const up = await httpUpstream(t)
  const hc = await startHacheckProcess(t, { config: { cache_time: 0, allow_remote_spool_changes: true, remote_spool_token: TOKEN } })
  const check = async (): Promise<number> => { const res = await fetch(hc.url(`/http/web/${up.port}/health`)); await res.arrayBuffer(); return res.status }
  assert.equal(await check(), 200)
  const { page, watch } = await openPage(t, hc)
  const code = row(page, 'web').locator('td.code')
  await code.filter({ hasText: /^200$/ }).waitFor({ timeout: LIVE_MS })
  await page.locator('#token').fill(TOKEN)
  await page.locator('#reason').fill('deploy 7')
  await row(page, 'web').locator('button[data-action="down"]').click()
  await row(page, 'web').locator('.pill', { hasText: /^DOWN$/ }).waitFor({ timeout: LIVE_MS })
  await code.filter({ hasText: /^200 \(before down\)$/ }).waitFor({ timeout: LIVE_MS })
  assert.equal(await code.getAttribute('class'), 'code stale')
  assert.match(await code.getAttribute('title') ?? '', /before the spool changed: the next check answers down from the spool/)
  await screenshot(page, 'stale-answer-after-down')

  assert.equal(await check(), 503)
  await code.filter({ hasText: /^503$/ }).waitFor({ timeout: LIVE_MS })
  assert.equal(await code.getAttribute('class'), 'code')

  await row(page, 'web').locator('button[data-action="up"]').click()
  await code.filter({ hasText: /^503 \(before up\)$/ }).waitFor({ timeout: LIVE_MS })
  assert.equal(await row(page, 'web').locator('.pill').textContent(), 'UP', 'not FAILING: the 503 was the spool\'s, before the up')
  assert.equal(await check(), 200)
  await code.filter({ hasText: /^200$/ }).waitFor({ timeout: LIVE_MS })
  assertClean(watch)
})

test('the documented screenshot and --dump-dom commands finish on /?once, with the page drawn', async (t) => {
  const doc = await readFile(join(ROOT, 'docs', 'status-page.md'), 'utf8')
  const block = /### Screenshots[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)?.[1] ?? ''
  const lines = block.split('\n').filter((l) => l.startsWith('chromium '))
  assert.equal(lines.length, 2, block)
  const hc = await startHacheckProcess(t)
  await runBin('hadown', ['--spool-root', hc.spoolRoot, '-r', 'screenshot test', 'web'])
  const dir = await tempDir(t)
  // Substituted: the port, and the output files into a temp directory. Added: the flags every
  // test's Chromium runs with (no sandbox as root, nothing that calls home).
  for (const line of lines) {
    const command = line.replaceAll('3333', String(hc.port)).replace('--screenshot=', `--screenshot=${dir}/`).replace(/ > (\S+)$/, '')
    const words = [...command.slice('chromium '.length).matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '')
    const args = [...CHROMIUM_ARGS.filter((a) => !words.includes(a)), ...words]
    const started = Date.now()
    const r = await runCommand('timeout', ['120', '/usr/bin/chromium', ...args])
    t.diagnostic(`${line}: exit ${String(r.code)} after ${((Date.now() - started) / 1000).toFixed(1)} s`)
    assert.equal(r.code, 0, r.stderr.slice(-2000))
    if (line.includes('--dump-dom')) {
      assert.match(r.stdout, /<tr data-service="web" class="st-down">/)
      assert.match(r.stdout, /snapshot · [0-9:]+ \(not live: \?once\)/)
      assert.match(r.stdout, /data-rendered="once"/)
    } else {
      const png = await readFile(join(dir, 'hacheck-status.png'))
      assert.equal(png.subarray(1, 4).toString(), 'PNG')
      assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1280, 900])
      assert.ok((await stat(join(dir, 'hacheck-status.png'))).size > 10000)
    }
  }
})
