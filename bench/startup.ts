/**
 * `npm run bench:startup`: start-up time, from exec to the first answer (docs/operator-guide.md
 * "Restarts and upgrades"). Spawns the built `bin/hacheck` (`-c` an empty config, a temp spool
 * root, a free port on 127.0.0.1) and asks `GET /spool/web/0/` on a fresh connection every
 * 5 ms until it answers 200; the time from spawn to that answer is one run. Also the same with
 * `-n 2`, and bare `node -e ''` for what the runtime alone takes on this machine. Runs
 * alternate (single, -n 2, node, single, ...), medians and p90 are printed.
 *
 * Environment: BENCH_RUNS (10) per kind; BENCH_HACHECK_BIN to time another build (e.g. an
 * older checkout's `bin/hacheck`, for a before/after).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const RUNS = Math.max(1, Math.min(100, Number(process.env.BENCH_RUNS ?? '10')))
const BIN = process.env.BENCH_HACHECK_BIN ?? fileURLToPath(new URL('../../bin/hacheck', import.meta.url))
/** Bound on one start, milliseconds: a start that never answers ends the bench. */
const START_BOUND_MS = 60_000

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

const answers = async (port: number): Promise<boolean> => await new Promise((resolve) => {
  const req = request({ host: '127.0.0.1', port, path: '/spool/web/0/', agent: false, headers: { connection: 'close' } }, (res) => {
    res.resume().on('end', () => { resolve(res.statusCode === 200) })
  })
  req.on('error', () => { resolve(false) })
  req.end()
})

/** One start: milliseconds from spawn to the first 200 (or to exit 0 for `node -e ''`). */
async function once (kind: 'single' | 'n2' | 'node', dir: string): Promise<number> {
  const port = await freePort()
  const args = kind === 'node'
    ? ['-e', '']
    : [BIN, '-c', join(dir, 'empty.yaml'), '--spool-root', join(dir, 'spool'), '-B', '127.0.0.1', '-p', String(port), ...(kind === 'n2' ? ['-n', '2'] : [])]
  const started = performance.now()
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  try {
    if (kind === 'node') {
      await exited
      return performance.now() - started
    }
    for (;;) {
      if (child.exitCode !== null) throw new Error(`hacheck exited ${child.exitCode} before answering`)
      if (await answers(port)) return performance.now() - started
      if (performance.now() - started > START_BOUND_MS) throw new Error(`no answer within ${START_BOUND_MS} ms`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  }
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}

const dir = await mkdtemp(join(tmpdir(), 'hacheck-bench-startup-'))
try {
  await writeFile(join(dir, 'empty.yaml'), '{}\n')
  const kinds = ['single', 'n2', 'node'] as const
  const times: Record<(typeof kinds)[number], number[]> = { single: [], n2: [], node: [] }
  for (let i = 0; i < RUNS; i++) for (const kind of kinds) times[kind].push(await once(kind, dir))
  const row = (name: string, values: number[]): string =>
    `| ${name} | ${quantile(values, 0.5).toFixed(0)} | ${quantile(values, 0.9).toFixed(0)} | ${Math.min(...values).toFixed(0)} |`
  process.stdout.write([
    `Start-up, exec to first answer (${RUNS} runs each, ${BIN}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; Node ${process.version})`,
    '',
    '| kind | median ms | p90 ms | min ms |',
    '|---|---|---|---|',
    row('hacheck', times.single),
    row('hacheck -n 2', times.n2),
    row("node -e '' (the runtime alone)", times.node),
    ''
  ].join('\n'))
} finally {
  await rm(dir, { recursive: true, force: true })
}
