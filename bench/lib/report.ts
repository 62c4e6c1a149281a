/**
 * Turning rounds into a table: medians per scenario, ratios to the baseline, targets.
 */
import type { RoundSample } from './rounds.js'

/** The median of some numbers (mean of the middle two for an even count). */
export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** A scenario's rounds reduced to one row. */
export interface Row {
  name: string
  rps: number
  rpsMin: number
  rpsMax: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  serverCpu: number
  /** Median req/s over the baseline's. */
  ratio?: number
  /** Req/s per CPU-second of the server, over the baseline's: the cost ratio when the load generator, not the server, is the limit. */
  ratioPerCpu?: number
  /** Minimum ratio asked for, if any. */
  target?: number
  /** Probes that reached the upstream over responses, all rounds together (counted scenarios). */
  probesPerRequest?: number
  /** Median over rounds of the server's CPU microseconds per probe (counted scenarios). */
  cpuUsPerProbe?: number
  /** Most CPU microseconds per probe asked for, if any. */
  maxCpuUsPerProbe?: number
}

/** Medians of the rounds of one scenario; errors summed over all rounds. */
export function summarise (name: string, samples: readonly RoundSample[]): Row {
  const rps = samples.map((s) => s.rps)
  const counted = samples.filter((s) => s.probes !== undefined)
  const probes = counted.reduce((sum, s) => sum + (s.probes ?? 0), 0)
  return {
    ...(counted.length === 0
      ? {}
      : {
          probesPerRequest: probes / Math.max(1, counted.reduce((sum, s) => sum + s.total, 0)),
          cpuUsPerProbe: median(counted.map((s) => 1e6 * s.serverCpuSeconds / Math.max(1, s.probes ?? 0)))
        }),
    name,
    rps: median(rps),
    rpsMin: Math.min(...rps),
    rpsMax: Math.max(...rps),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    non2xx: samples.reduce((sum, s) => sum + s.non2xx, 0),
    serverCpu: median(samples.map((s) => s.serverCpu))
  }
}

/** Adds ratios to the baseline row (`baseline` itself gets 1) and the targets. */
export function withRatios (row: Row, baseline: Row, targets: { target?: number | undefined, maxCpuUsPerProbe?: number | undefined } = {}): Row {
  const perCpu = (r: Row): number => r.rps / Math.max(r.serverCpu, 0.01)
  return {
    ...row,
    ratio: row.rps / baseline.rps,
    ratioPerCpu: perCpu(row) / perCpu(baseline),
    ...(targets.target === undefined ? {} : { target: targets.target }),
    ...(targets.maxCpuUsPerProbe === undefined ? {} : { maxCpuUsPerProbe: targets.maxCpuUsPerProbe })
  }
}

/**
 * Whether a row meets its target: both ratios (raw and per server CPU) at least the target,
 * and no errors.
 */
export function holds (row: Row): boolean | undefined {
  if (row.target === undefined || row.ratio === undefined || row.ratioPerCpu === undefined) return undefined
  return Math.min(row.ratio, row.ratioPerCpu) >= row.target && row.errors === 0 && row.non2xx === 0
}

/** Whether a counted row's CPU per probe is within its target (and it had no errors). */
export function holdsProbeCost (row: Row): boolean | undefined {
  if (row.maxCpuUsPerProbe === undefined || row.cpuUsPerProbe === undefined) return undefined
  return row.cpuUsPerProbe <= row.maxCpuUsPerProbe && row.errors === 0 && row.non2xx === 0
}

const f0 = (x: number): string => Math.round(x).toLocaleString('en-US')
const f2 = (x: number | undefined): string => x === undefined ? '' : x.toFixed(2)
const ms = (x: number): string => x < 10 ? x.toFixed(2) : x.toFixed(1)

/** The load rows as a markdown table. */
export function loadTable (rows: readonly Row[]): string {
  const lines = [
    '| scenario | req/s (median) | req/s (min-max) | p50 ms | p99 ms | errors | non-2xx | server CPU | ratio | ratio per CPU | target | holds |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|'
  ]
  for (const r of rows) {
    const h = holds(r)
    lines.push(`| ${r.name} | ${f0(r.rps)} | ${f0(r.rpsMin)}-${f0(r.rpsMax)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.errors} | ${r.non2xx} | ${Math.round(r.serverCpu * 100)}% | ${f2(r.ratio)} | ${f2(r.ratioPerCpu)} | ${r.target === undefined ? '' : `≥ ${r.target}`} | ${h === undefined ? '' : h ? 'yes' : '**no**'} |`)
  }
  return lines.join('\n')
}

/** The counted rows (probes reaching the upstream) as a markdown table. */
export function probeTable (rows: readonly Row[]): string {
  const lines = [
    '| scenario | req/s (median) | ratio | probes / request | hacheck CPU us / request | hacheck CPU us / probe | target | holds |',
    '|---|--:|--:|--:|--:|--:|--:|---|'
  ]
  for (const r of rows) {
    if (r.cpuUsPerProbe === undefined || r.probesPerRequest === undefined) continue
    const h = holdsProbeCost(r)
    lines.push(`| ${r.name} | ${f0(r.rps)} | ${f2(r.ratio)} | ${r.probesPerRequest.toFixed(2)} | ${f0(1e6 * r.serverCpu / Math.max(r.rps, 1))} | ${f0(r.cpuUsPerProbe)} | ${r.maxCpuUsPerProbe === undefined ? '' : `≤ ${r.maxCpuUsPerProbe}`} | ${h === undefined ? '' : h ? 'yes' : '**no**'} |`)
  }
  return lines.join('\n')
}
