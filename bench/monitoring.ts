/**
 * `npm run bench:monitoring`: what a monitoring route costs the event loop at its bounds.
 *
 * An app (in this process, no listener) is filled through its own check route, as clients
 * would fill it: as many services as the service log keeps, each asked from two addresses of
 * its own (as many (service, client) pairs as are counted), then 20,000 more requests from
 * other addresses that are only added up. Then each monitoring route is asked ROUNDS times; what one
 * request costs the server's event loop is Fastify's own measure, `reply.elapsedTime` when the
 * answer is written (routing, handler, serialisation), taken in an `onResponse` hook; the
 * round trip through `app.inject` (which also copies the answer) is shown beside it. Reported:
 * medians and max, in ms, and the answer's size.
 *
 * Environment: BENCH_ROUNDS (50).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_MAX_COUNTS, DEFAULT_MAX_SERVICES } from '../src/checks/service-log.js'
import { makeConfig } from '../src/config/index.js'
import { buildApp } from '../src/http/app.js'
import { Spool } from '../src/spool/spool.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS) > 0 ? Number(process.env.BENCH_ROUNDS) : 50
const ROUTES = ['/status/count', '/recent', '/status', '/metrics']

const address = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-bench-monitoring-'))
  const app = await buildApp(makeConfig({}), { spool: await Spool.open(dir) })
  let served = 0
  app.addHook('onResponse', (_request, reply, done) => { served = reply.elapsedTime; done() })
  try {
    for (let i = 0; i < DEFAULT_MAX_COUNTS; i++) await app.inject({ url: `/spool/service-${i % DEFAULT_MAX_SERVICES}/0/`, remoteAddress: address(i) })
    for (let i = 0; i < 20_000; i++) await app.inject({ url: `/spool/service-${i % DEFAULT_MAX_SERVICES}/0/`, remoteAddress: address(100_000 + i) })
    const counts = JSON.parse((await app.inject('/status/count')).body) as { uncounted_requests: number }
    process.stdout.write(`Filled: ${DEFAULT_MAX_SERVICES} services, ${DEFAULT_MAX_COUNTS} (service, client) pairs counted, ` +
      `${counts.uncounted_requests} requests uncounted. ${ROUNDS} rounds per route.\n\n`)
    process.stdout.write('| route | server ms (median) | server ms (max) | inject round trip ms (median) | answer bytes |\n|---|--:|--:|--:|--:|\n')
    for (const url of ROUTES) {
      for (let i = 0; i < 5; i++) await app.inject(url) // warm up
      const server: number[] = []
      const trips: number[] = []
      let bytes = 0
      for (let i = 0; i < ROUNDS; i++) {
        const started = performance.now()
        const res = await app.inject(url)
        trips.push(performance.now() - started)
        server.push(served)
        bytes = res.rawPayload.length
      }
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
      process.stdout.write(`| \`${url}\` | ${median(server).toFixed(2)} | ${Math.max(...server).toFixed(2)} | ${median(trips).toFixed(2)} | ${bytes.toLocaleString('en-US')} |\n`)
    }
  } finally {
    await app.close()
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exitCode = 1 })
