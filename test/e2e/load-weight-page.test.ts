/**
 * The status page shows load weights (docs/status-page.md): in a real browser (Debian's chromium,
 * playwright-core) on the built `bin/hacheck`, each service's load weight with its scope and
 * pressure beside its spool files, the host's in the banner when it is below 100 %, and every
 * scope's inputs under "This host", following the pressure files live.
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { tempDir } from '../helper.js'
import { writePressure } from '../ops/pressure-fixtures.js'
import { launchBrowser, screenshot, watchPage } from './browser.js'
import { startHacheckProcess } from './hacheck-process.js'

test('status page: load weight per service (host or cgroup), the host\'s in the banner, inputs under This host; live', async (t) => {
  const dir = await tempDir(t, 'hacheck-pressure-')
  const pressure = join(dir, 'pressure')
  const web = join(dir, 'cgroups', 'web.service')
  await mkdir(pressure)
  await writePressure(pressure, 'cpu', 0)
  await writePressure(web, 'cpu.pressure', 50)
  const hc = await startHacheckProcess(t, {
    config: { load_weight_sources: ['cpu'], pressure_root: pressure, load_weight_interval_seconds: 0.2, load_weight_cgroups: { web } }
  })
  for (const service of ['web', 'api']) assert.equal((await fetch(hc.url(`/spool/${service}/0/`))).status, 200)

  const browser = await launchBrowser()
  t.after(async () => { await browser.close() })
  const page = await browser.context.newPage()
  const watch = watchPage(page)
  await page.goto(hc.url('/'))
  const reason = (service: string): ReturnType<typeof page.locator> => page.locator(`#services tbody tr[data-service="${service}"] td.reason .file`)
  await reason('web').filter({ hasText: 'load weight 50% (cgroup pressure 50%)' }).waitFor({ timeout: 5000 })
  await reason('api').filter({ hasText: 'load weight 100% (host pressure 0%)' }).waitFor({ timeout: 5000 })
  assert.equal(await page.locator('#banner').isHidden(), true, 'no banner at 100 %')
  const hostLine = page.locator('#host dt', { hasText: /^Load weight$/ }).locator('xpath=following-sibling::dd[1]')
  assert.equal(await hostLine.textContent(), 'all 100% (avg10: cpu 0) · web 50% (avg10: cpu 50)')

  await writePressure(pressure, 'cpu', 70)
  await reason('api').filter({ hasText: 'load weight 30% (host pressure 70%)' }).waitFor({ timeout: 5000 })
  await page.locator('#banner', { hasText: 'load weight 30% (host pressure 70%)' }).waitFor({ timeout: 5000 })
  t.diagnostic(`screenshot: ${await screenshot(page, 'load-weight')}`)
  assert.deepEqual(watch.errors, [], 'no console errors')
  assert.deepEqual(watch.offLoopback(), [], 'no request leaves loopback')
})
