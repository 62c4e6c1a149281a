/**
 * Alternating rounds: every scenario once per round, in order, so a noisy neighbour hurts each
 * alike. A scenario that names an upstream counter also counts, per round, the probes that
 * reached the upstream (counter read before and after the round).
 */
import { runLoad, type Sample } from './load.js'
import type { ServerProcess } from './procs.js'

/** A measured scenario: a URL on a server process, with its targets. */
export interface Scenario {
  name: string
  url: string
  server: ServerProcess
  /** Least ratio to the baseline (raw and per server CPU). */
  target?: number
  /** Headers sent with every request. */
  headers?: Record<string, string>
  /** The upstream counter each probe of this scenario increments (a path, or `tcp`). */
  probeCounter?: string
  /** Most server CPU microseconds per probe. */
  maxCpuUsPerProbe?: number
}

/** One round of one scenario; `probes` when the scenario counts them. */
export interface RoundSample extends Sample {
  probes?: number
}

/** How rounds are run. */
export interface RoundOptions {
  rounds: number
  duration: number
  connections: number
  /** The upstream's counters, for scenarios with a `probeCounter`. */
  hits: () => Promise<Record<string, number>>
  log: (line: string) => void
}

async function counted (s: Scenario, opts: RoundOptions): Promise<RoundSample> {
  const load = { url: s.url, connections: opts.connections, duration: opts.duration, serverPid: s.server.pid, ...(s.headers === undefined ? {} : { headers: s.headers }) }
  const counter = s.probeCounter
  if (counter === undefined) return await runLoad(load)
  const before = (await opts.hits())[counter] ?? 0
  const sample = await runLoad(load)
  return { ...sample, probes: ((await opts.hits())[counter] ?? 0) - before }
}

/** Every scenario once per round, in order, for `opts.rounds` rounds. @returns the rounds by scenario name. */
export async function measure (scenarios: readonly Scenario[], opts: RoundOptions): Promise<Map<string, RoundSample[]>> {
  const samples = new Map<string, RoundSample[]>(scenarios.map((s) => [s.name, []]))
  for (let round = 1; round <= opts.rounds; round++) {
    for (const s of scenarios) {
      const sample = await counted(s, opts)
      samples.get(s.name)?.push(sample)
      const probes = sample.probes === undefined ? '' : `, ${sample.probes} probes (${(sample.probes / Math.max(sample.total, 1)).toFixed(2)}/request, ${Math.round(1e6 * sample.serverCpuSeconds / Math.max(sample.probes, 1))} us CPU each)`
      opts.log(`round ${round}/${opts.rounds} ${s.name}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99.toFixed(2)} ms, cpu ${Math.round(sample.serverCpu * 100)}%, errors ${sample.errors}, non-2xx ${sample.non2xx}${probes}`)
    }
  }
  return samples
}
