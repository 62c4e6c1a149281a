/**
 * Many services on one hacheck: a spool of N files (every tenth service downed outright, the
 * others downed on a port no check asks about, so every service has a file and the directory
 * holds N entries) and requests spread over N distinct services, each request naming the next
 * service in turn from one counter shared by all connections.
 *
 * `service_name_header` is set, so the service joins the cache key (and is sent upstream):
 * N - N/10 distinct cache entries, verified by the growth of `/status` `cache.sets` and of the
 * upstream's `/health` count during the first pass, which asks each service once.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatSpoolContents } from '../../src/spool/format.js'
import { runLoad, type Sample } from './load.js'
import { statusMb, quietRssMb } from './memory.js'
import { median } from './report.js'
import { stopProcess } from './procs.js'
import { getJson, startHacheck, type Upstream } from './servers.js'

/** Peak RSS allowed for the many-services hacheck, MB. */
export const SCALE_RSS_LIMIT_MB = 150
/** Every DOWN_EVERY-th service is down outright. */
const DOWN_EVERY = 10
/** The port the other services' spool files down (no check asks about it). */
const OTHER_PORT = 9

/** How to run it. */
export interface ScaleOptions {
  dir: string
  cpu: number | undefined
  upstream: Upstream
  services: number
  rounds: number
  duration: number
  connections: number
  log: (line: string) => void
}

/** One route's measured rounds, reduced. */
export interface ScaleRoute {
  rps: number
  p99: number
  errors: number
  /** Answers other than 200 over all answers (the downed services answer 503). */
  non2xxShare: number
}

/** What the many-services run measured. */
export interface ScaleResult {
  services: number
  /** Files in the spool directory. */
  files: number
  /** Services downed outright. */
  downed: number
  /** The first pass: each service asked once (each up one probed once). */
  fill: { requests: number, rps: number, seconds: number, errors: number, non2xx: number }
  /** Distinct services the requests named, over the whole run. */
  distinctServices: number
  /** Cache entries stored during the first pass (`/status` cache.sets). */
  cacheEntries: number
  /** Probes that reached the upstream during the first pass, and during the measured rounds. */
  fillProbes: number
  roundProbes: number
  http: ScaleRoute
  spool: ScaleRoute
  /** VmRSS after a quiet second at the end, and VmHWM. */
  rssMb: number
  peakMb: number
}

/** Writes the spool: `svc<i>` downed for every tenth service, `svc<i>:<OTHER_PORT>` for the others. */
async function writeSpool (root: string, services: number): Promise<number> {
  await mkdir(root, { recursive: true })
  const now = Date.now() / 1000
  const contents = formatSpoolContents({ reason: 'bench', expiration: null, creation: now, state: 'down' })
  for (let i = 0; i < services; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, services - i) }, async (_x, j) => {
      const n = i + j
      await writeFile(join(root, n % DOWN_EVERY === 0 ? `svc${n}` : `svc${n}:${OTHER_PORT}`), contents)
    }))
  }
  return (await readdir(root)).length
}

function reduce (samples: readonly Sample[]): ScaleRoute {
  const total = samples.reduce((sum, s) => sum + s.total, 0)
  return {
    rps: median(samples.map((s) => s.rps)),
    p99: median(samples.map((s) => s.p99)),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    non2xxShare: samples.reduce((sum, s) => sum + s.non2xx, 0) / Math.max(1, total)
  }
}

/** Runs the many-services benchmark on a fresh hacheck pinned to `opts.cpu`. */
export async function runScale (opts: ScaleOptions): Promise<ScaleResult> {
  const { services, upstream } = opts
  const spoolRoot = join(opts.dir, 'spool-scale')
  const files = await writeSpool(spoolRoot, services)
  const config = `cache_time: 3600\ncache_max_entries: ${services * 2}\nservice_name_header: X-Service\n`
  const hacheck = await startHacheck('scale', opts.dir, config, opts.cpu, spoolRoot)
  const base = `http://127.0.0.1:${hacheck.port}`
  const seen = new Uint8Array(services)
  let next = 0
  const pathOf = (route: 'http' | 'spool') => (): string => {
    const i = next++ % services
    seen[i] = 1
    return route === 'http' ? `/http/svc${i}/${upstream.http}/health` : `/spool/svc${i}/${upstream.http}/`
  }
  const cacheSets = async (): Promise<number> => (await getJson<{ cache: { sets: number } }>(`${base}/status`)).cache.sets
  const healthHits = async (): Promise<number> => (await upstream.hits())['/health'] ?? 0
  try {
    const [setsBefore, hitsBefore] = [await cacheSets(), await healthHits()]
    const fill = await runLoad({ url: base, connections: opts.connections, amount: services, serverPid: hacheck.pid, nextPath: pathOf('http') })
    const [setsAfter, hitsAfter] = [await cacheSets(), await healthHits()]
    opts.log(`scale fill: ${services} services once, ${Math.round(fill.rps)} req/s, ${setsAfter - setsBefore} cache entries stored, ${hitsAfter - hitsBefore} probes`)
    const http: Sample[] = []
    const spool: Sample[] = []
    for (let round = 1; round <= opts.rounds; round++) {
      for (const [route, into] of [['http', http], ['spool', spool]] as const) {
        const sample = await runLoad({ url: base, connections: opts.connections, duration: opts.duration, serverPid: hacheck.pid, nextPath: pathOf(route) })
        into.push(sample)
        opts.log(`scale round ${round}/${opts.rounds} ${route}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99.toFixed(2)} ms, cpu ${Math.round(sample.serverCpu * 100)}%, errors ${sample.errors}, non-2xx ${sample.non2xx}`)
      }
    }
    const roundProbes = await healthHits() - hitsAfter
    return {
      services,
      files,
      downed: Math.ceil(services / DOWN_EVERY),
      fill: { requests: fill.total, rps: fill.rps, seconds: fill.elapsed, errors: fill.errors, non2xx: fill.non2xx },
      distinctServices: seen.reduce((sum, x) => sum + x, 0),
      cacheEntries: setsAfter - setsBefore,
      fillProbes: hitsAfter - hitsBefore,
      roundProbes,
      http: reduce(http),
      spool: reduce(spool),
      rssMb: await quietRssMb(hacheck.pid),
      peakMb: statusMb(hacheck.pid, 'VmHWM')
    }
  } finally {
    await stopProcess(hacheck)
  }
}
