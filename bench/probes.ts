/**
 * `npm run build && node dist/bench/probes.js`: what one uncached probe costs hacheck, per
 * protocol. Each checker runs in this process (as the health service runs it: a fresh
 * connection, the whole exchange, the close) against a real local server, sequentially, so the
 * numbers are one probe's wall time and this process's CPU time for it. The servers are the
 * machine's (PostgreSQL 5432 trust, MariaDB 3306 root, Redis 6379) and a gRPC health server
 * in a child process; the resident size grown by loading each client library is reported too.
 *
 * Environment: PROBES (200 per protocol), PG_USER (postgres).
 */
import { performance } from 'node:perf_hooks'
import { grpc } from '../src/checkers/grpc.js'
import { mysql } from '../src/checkers/mysql.js'
import { postgres } from '../src/checkers/postgres.js'
import { redis } from '../src/checkers/redis.js'
import { tcp } from '../src/checkers/tcp.js'
import type { Checker } from '../src/checkers/types.js'
import { makeConfig } from '../src/config/index.js'
import { startGrpcServer } from './lib/grpc-server.js'

const PROBES = Number(process.env.PROBES ?? 200)
const config = makeConfig({ postgres_username: process.env.PG_USER ?? 'postgres', mysql_username: 'root', mysql_password: '', healthcheck_timeout: 5 })

interface Row { protocol: string, ok: number, p50: number, p99: number, cpuMs: number, rssMb: number }

async function measure (protocol: string, checker: Checker, port: number, query = ''): Promise<Row> {
  const target = { service: 'bench', host: '127.0.0.1', address: '127.0.0.1', port, query, queryString: '', headers: {} }
  const run = async (): Promise<boolean> => {
    const signal = AbortSignal.timeout(5000)
    return (await checker.check(target, { timeoutMs: 5000, signal, config })).code === 200
  }
  const rssBefore = process.memoryUsage().rss
  await run() // loads the library
  await run()
  const rssMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20
  const times: number[] = []
  let ok = 0
  const cpu = process.cpuUsage()
  for (let i = 0; i < PROBES; i++) {
    const started = performance.now()
    if (await run()) ok++
    times.push(performance.now() - started)
  }
  const used = process.cpuUsage(cpu)
  times.sort((a, b) => a - b)
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN
  return { protocol, ok, p50: at(0.5), p99: at(0.99), cpuMs: (used.user + used.system) / 1000 / PROBES, rssMb }
}

const server = await startGrpcServer()
const rows: Row[] = []
try {
  rows.push(await measure('tcp (reference)', tcp, 5432))
  rows.push(await measure('postgres (login)', postgres, 5432))
  rows.push(await measure('postgres /primary', postgres, 5432, 'primary'))
  rows.push(await measure('mysql (login)', mysql, 3306))
  rows.push(await measure('mysql /primary', mysql, 3306, 'primary'))
  rows.push(await measure('redis (PING)', redis, 6379))
  rows.push(await measure('redis /master', redis, 6379, 'master'))
  rows.push(await measure('grpc', grpc, server.port))
} finally {
  server.stop()
}
console.log(`${PROBES} sequential uncached probes per protocol, Node ${process.version}\n`)
console.log('| protocol | passed | p50 ms | p99 ms | hacheck CPU ms / probe | RSS after first probe, MiB |')
console.log('|---|--:|--:|--:|--:|--:|')
for (const r of rows) console.log(`| ${r.protocol} | ${r.ok}/${PROBES} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuMs.toFixed(2)} | ${r.rssMb.toFixed(1)} |`)
