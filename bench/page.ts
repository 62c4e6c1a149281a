/**
 * `npm run bench:page`: what an open status page costs the server.
 *
 * A built `bin/hacheck` (pinned to CPU 1 when possible) knows N services (checked once each
 * through the spool route, a tenth of them downed in the spool, so every snapshot reads files)
 * and is then measured, for each N, in rounds of DURATION seconds with 0, 1 and 10 pages open
 * (server-sent event streams read by this process, as a browser would). Reported per case: the
 * server's CPU (from /proc, as a fraction of one core), the CPU an open page adds over the idle
 * server, and the bytes per second each page receives.
 *
 * Environment: BENCH_DURATION seconds per case (10), BENCH_PIN=0 to let the scheduler place
 * processes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Spool } from '../src/spool/spool.js'
import { canPin, cpuSeconds, freePort, pinSelf, startProcess, stopProcess, type ServerProcess } from './lib/procs.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DURATION = Number(process.env.BENCH_DURATION) > 0 ? Number(process.env.BENCH_DURATION) : 10
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && canPin()
const SERVICES = [20, 200]
const PAGES = [0, 1, 10]
/** Cores of the machine, read before this process pins itself to one. */
const CORES = availableParallelism()

interface Case { services: number, pages: number, cpu: number, bytesPerPage: number, events: number }

/** Opens `n` event streams; returns a stop function that reports bytes and events received. */
function openPages (port: number, n: number): () => Promise<{ bytes: number, events: number }> {
  const controller = new AbortController()
  let bytes = 0
  let events = 0
  const readers = Array.from({ length: n }, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/page/events`, { signal: controller.signal })
    if (res.status !== 200 || res.body === null) throw new Error(`/page/events answered ${res.status}`)
    const decoder = new TextDecoder()
    for await (const chunk of res.body) {
      bytes += chunk.byteLength
      events += (decoder.decode(chunk, { stream: true }).match(/^data: /gm) ?? []).length
    }
  })
  return async () => {
    controller.abort()
    await Promise.allSettled(readers)
    return { bytes, events }
  }
}

async function measureCase (server: ServerProcess, services: number, pages: number): Promise<Case> {
  const stop = openPages(server.port, pages)
  // Let the streams open and the first snapshot go out before the clock starts.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const cpu0 = cpuSeconds(server.pid)
  const t0 = Date.now()
  await new Promise((resolve) => setTimeout(resolve, DURATION * 1000))
  const cpu = (cpuSeconds(server.pid) - cpu0) / ((Date.now() - t0) / 1000)
  const { bytes, events } = await stop()
  const seconds = DURATION + 1.5
  return { services, pages, cpu, bytesPerPage: pages === 0 ? 0 : bytes / pages / seconds, events }
}

async function main (): Promise<void> {
  if (PIN) pinSelf(0)
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-bench-page-'))
  const results: Case[] = []
  try {
    for (const n of SERVICES) {
      const spoolRoot = join(dir, `spool-${n}`)
      const config = join(dir, 'hacheck.yaml')
      await writeFile(config, '{}\n')
      const port = await freePort()
      const server = await startProcess({
        name: `hacheck-${n}`,
        args: [join(ROOT, 'bin', 'hacheck'), '-c', config, '--spool-root', spoolRoot, '-B', '127.0.0.1', '-p', String(port)],
        cpu: PIN ? 1 : undefined,
        port,
        readyPath: '/status'
      })
      try {
        const spool = await Spool.open(spoolRoot, { write: true })
        for (let i = 0; i < n; i++) {
          await (await fetch(`http://127.0.0.1:${port}/spool/service-${i}/0/`)).arrayBuffer()
          if (i % 10 === 0) await spool.down({ service: `service-${i}` }, { reason: `maintenance window ${i} (bench)` })
        }
        for (const pages of PAGES) {
          const c = await measureCase(server, n, pages)
          results.push(c)
          process.stderr.write(`${n} services, ${pages} pages: server cpu ${(c.cpu * 100).toFixed(2)}%, ${Math.round(c.bytesPerPage)} B/s per page, ${c.events} events\n`)
        }
      } finally {
        await stopProcess(server)
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const lines = [
    `Status page cost: ${DURATION} s per case, Node ${process.version}, ${CORES} cores${PIN ? ', server pinned to CPU 1' : ''}.`,
    '',
    '| services | open pages | server CPU | added per page | bytes/s per page |',
    '|--:|--:|--:|--:|--:|'
  ]
  for (const c of results) {
    const idle = results.find((r) => r.services === c.services && r.pages === 0)?.cpu ?? 0
    const added = c.pages === 0 ? '' : `${(((c.cpu - idle) / c.pages) * 100).toFixed(2)}%`
    lines.push(`| ${c.services} | ${c.pages} | ${(c.cpu * 100).toFixed(2)}% | ${added} | ${c.pages === 0 ? '' : Math.round(c.bytesPerPage).toLocaleString('en')} |`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
}

await main()
