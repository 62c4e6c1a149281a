/**
 * One round of load with autocannon, run in this (the driver's) process, so the load generator
 * never shares an event loop with the server under test.
 *
 * Latency percentiles are computed here from every response's own time (autocannon's histogram
 * rounds to whole milliseconds, too coarse for sub-millisecond answers).
 */
import autocannon from 'autocannon'
import { cpuSeconds } from './procs.js'

/** What one round measured. */
export interface Sample {
  /** Completed responses per second. */
  rps: number
  /** Latency percentiles in milliseconds, over every response. */
  p50: number
  p99: number
  /** Responses that were not 2xx. */
  non2xx: number
  /** Socket errors and timeouts. */
  errors: number
  /** CPU the server process used during the round, as a fraction of one core. */
  serverCpu: number
  /** CPU seconds (user + system, all threads) the server process used during the round. */
  serverCpuSeconds: number
  /** Wall seconds of the round. */
  elapsed: number
  /** Responses counted. */
  total: number
}

/** Options for {@link runLoad}. */
export interface LoadOptions {
  url: string
  connections: number
  /** Seconds; ignored when `amount` is set. */
  duration?: number
  /** Exact number of requests instead of a duration. */
  amount?: number
  /** Process whose CPU time to sample around the round (the server under test). */
  serverPid?: number
  /** Per-request timeout in seconds. */
  timeout?: number
  /** Requests per second over all connections; as fast as possible when absent. */
  rate?: number
  /** Headers sent with every request (e.g. `Pragma: no-cache`). */
  headers?: Record<string, string>
  /**
   * The path of each request, asked anew per request (the URL's host and port stay): spreads
   * the load over many URLs without one request list per connection.
   */
  nextPath?: () => string
}

/** The `p`-quantile (0-1) of sorted values. */
export function quantile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

/** An autocannon request whose path is rebuilt before each send. */
function pathsFrom (nextPath: () => string): autocannon.Request {
  return { method: 'GET', setupRequest: (request) => ({ ...request, path: nextPath() }) }
}

/** Runs one round and measures it. */
export async function runLoad (opts: LoadOptions): Promise<Sample> {
  let times = new Float64Array(1 << 16)
  let n = 0
  const cpuBefore = opts.serverPid === undefined ? 0 : cpuSeconds(opts.serverPid)
  const started = process.hrtime.bigint()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: opts.url,
      connections: opts.connections,
      ...(opts.amount === undefined ? { duration: opts.duration ?? 3 } : { amount: opts.amount }),
      timeout: opts.timeout ?? 10,
      pipelining: 1,
      ...(opts.rate === undefined ? {} : { overallRate: opts.rate }),
      ...(opts.headers === undefined ? {} : { headers: opts.headers }),
      ...(opts.nextPath === undefined ? {} : { requests: [pathsFrom(opts.nextPath)] })
    }, (err: unknown, res: autocannon.Result) => { if (err !== null && err !== undefined) reject(err instanceof Error ? err : new Error(String(err))); else resolve(res) })
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (n === times.length) {
        const bigger = new Float64Array(times.length * 2)
        bigger.set(times)
        times = bigger
      }
      times[n++] = responseTime
    })
  })
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9
  const cpuAfter = opts.serverPid === undefined ? 0 : cpuSeconds(opts.serverPid)
  const sorted = times.subarray(0, n).sort()
  return {
    rps: result.requests.total / result.duration,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    non2xx: result.non2xx,
    errors: result.errors, // includes timeouts
    serverCpu: (cpuAfter - cpuBefore) / elapsed,
    serverCpuSeconds: cpuAfter - cpuBefore,
    elapsed,
    total: result.requests.total
  }
}
