/**
 * Takes the README's picture of the status page (docs/status-page.png) from the real page: the
 * built `bin/hacheck` on 127.0.0.1, real upstreams with realistic latencies (one slowing, one
 * failing, one gone), checked every 2 s as HAProxy would for a few minutes, and spool states set
 * with the real tools. Not a test; run it by hand after a visible change to the page:
 *
 *     npm run build && node dist/test/e2e/page-screenshot.js [docs/status-page.png] [seconds, default 150]
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bin, freePort, runBin } from '../helper.js'
import { launchBrowser } from './browser.js'

const out = process.argv[2] ?? 'docs/status-page.png'
const seconds = Number(process.argv[3] ?? 150)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const jitter = (ms: number): number => ms * (0.7 + Math.random() * 0.6)

async function listen (server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

const started = Date.now()
/** An upstream whose /health answers after `latency()` ms with `status()`. */
async function upstream (latency: () => number, status: () => number = () => 200): Promise<{ port: number, server: Server }> {
  const server = createServer((_req, res) => {
    setTimeout(() => { const code = status(); res.writeHead(code).end(code === 200 ? 'ok' : 'backend error: pool exhausted') }, latency())
  })
  return { port: await listen(server), server }
}

const dir = await mkdtemp(join(tmpdir(), 'hacheck-screenshot-'))
const spool = join(dir, 'spool')
const config = join(dir, 'hacheck.yaml')
await writeFile(config, 'cache_time: 1\nallow_remote_spool_changes: true\nremote_spool_token: "screenshot-token-0123456789"\n')
const port = await freePort()
const hacheck = spawn(process.execPath, [bin('hacheck'), '-c', config, '--spool-root', spool, '-B', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
const servers: Array<Server | ReturnType<typeof createTcpServer>> = []
try {
  const elapsed = (): number => (Date.now() - started) / 1000
  const web = await upstream(() => jitter(4))
  const api = await upstream(() => jitter(25))
  // search slows down steadily over the run: the sparkline a slowing service draws.
  const search = await upstream(() => jitter(20 + elapsed() * 1.5))
  // checkout flaps: fails for a while in the middle of the run.
  const checkout = await upstream(() => jitter(60), () => (elapsed() > seconds * 0.4 && elapsed() < seconds * 0.6) || elapsed() > seconds * 0.9 ? 500 : 200)
  const payments = await upstream(() => jitter(12))
  const reports = await upstream(() => jitter(150))
  const redis = createTcpServer((socket) => { socket.destroy() })
  const redisPort = await listen(redis)
  servers.push(web.server, api.server, search.server, checkout.server, payments.server, reports.server, redis)
  const gone = await freePort()

  const checks = [
    `/http/web/${web.port}/health`, `/http/api/${api.port}/health`, `/http/search/${search.port}/health`,
    `/http/checkout/${checkout.port}/health`, `/http/payments/${payments.port}/health`, `/http/reports/${reports.port}/health`,
    `/tcp/redis-cache/${redisPort}/`, `/tcp/ledger/${gone}/`
  ]
  for (let i = 0; i < 100 && !(await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok, () => false)); i++) await sleep(100)

  const root = ['--spool-root', spool]
  let staged = false
  const checking = { on: true }
  const checkAll = async (): Promise<void> => {
    await Promise.all(checks.map(async (path) => { await fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => await r.arrayBuffer(), () => {}) }))
  }
  // The balancers keep checking (every 2 s) while the browser starts and takes the picture.
  const balancers = (async () => { while (checking.on) { await checkAll(); await sleep(2000) } })()
  while (elapsed() < seconds) {
    if (!staged && elapsed() > seconds - 40) {
      staged = true
      const now = Date.now() / 1000
      await runBin('hadown', [...root, '-r', 'deploy #4812 in progress (alice)', '-e', String(Math.round(now + 900)), 'api'])
      await runBin('hadown', [...root, '--drain', '-r', 'kernel upgrade, draining sessions (bob)', 'payments'])
      await runBin('haweight', [...root, 'payments', '50'])
      await runBin('hadown', [...root, '--maint', '-r', 'disk replacement, OPS-1234', 'reports'])
    }
    await sleep(2000)
  }

  const browser = await launchBrowser({ width: 1440, height: 900 })
  try {
    const page = await browser.context.newPage()
    await page.goto(`http://127.0.0.1:${port}/`)
    await page.locator('#live', { hasText: /^live/ }).waitFor({ timeout: 5000 })
    await page.locator('#token').fill('screenshot-token-0123456789')
    await page.locator('#reason').fill('rolling restart (carol)')
    await sleep(1500)
    await page.screenshot({ path: out, fullPage: true })
    process.stdout.write(`wrote ${out}\n`)
  } finally {
    await browser.close()
    checking.on = false
    await balancers
  }
} finally {
  hacheck.kill()
  for (const server of servers) server.close()
  await rm(dir, { recursive: true, force: true })
}
