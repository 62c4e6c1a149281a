/**
 * Prometheus metrics (ours), on a registry of their own per runtime (never prom-client's
 * global one), so tests can build as many apps as they like.
 *
 * Counters the check route moves as it answers; gauges and cache counters read from the
 * health service and the spool when scraped. Every metric carries an `aggregator` so that
 * prom-client's cluster aggregation (`-n` workers) sums what adds up and takes the max of
 * what every worker reports alike (the spool is one directory).
 *
 * Imports no Fastify.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { HealthService } from '../checks/health.js'
import type { Spool } from '../spool/spool.js'
import { VERSION } from '../version.js'
import { registerFleetMetrics } from './fleet-metrics.js'
import { registerLoadMetrics } from './load-metrics.js'
import type { LoadSampler } from './load-weight.js'

/** What {@link Metrics} reads at scrape time. */
export interface MetricsSources {
  health: HealthService
  spool: Spool
  /** (ours) The load-weight sampler, when load weights are on: its gauges are registered too. */
  load?: Pick<LoadSampler, 'scopes' | 'settings'> | undefined
  /** Also collect prom-client's process metrics (CPU, memory, event loop, GC); default true. */
  defaultMetrics?: boolean
}

/** Probe duration buckets, seconds: 1 ms up to the default `healthcheck_timeout` of 10 s. */
export const PROBE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Node default gauges that prom-client names with a counter's `_total` suffix; removed (see
 * docs/operator-guide.md "Metrics").
 */
export const REDUNDANT_TOTAL_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const

/** The metrics of one runtime (one process). */
export class Metrics {
  readonly registry = new Registry()
  /**
   * Checks answered by `protocol\0code\0check_status`: counted here on the hot path and copied
   * into the counter when scraped, sparing each answer prom-client's label hashing.
   */
  private readonly checkCounts = new Map<string, number>()
  private readonly probeSeconds: Histogram<'protocol'>
  private readonly remoteSpool: Counter<'code'>
  private readonly dropped: Counter
  private readonly refused: Counter<'listener'>

  constructor (sources: MetricsSources) {
    const { health, spool } = sources
    const registers = [this.registry]
    health.onProbe((protocol, result) => { this.probeSeconds.observe({ protocol }, result.durationMs / 1000) })
    const counts = this.checkCounts
    const checks: Counter<'protocol' | 'code' | 'check_status'> = new Counter({
      name: 'hacheck_checks_total',
      help: 'Checks answered, by protocol, HTTP status code answered and HAProxy check status (L4CON, L7STS, ...).',
      labelNames: ['protocol', 'code', 'check_status'],
      registers,
      collect () {
        checks.reset()
        for (const [key, n] of counts) {
          const [protocol = '', code = '', status = ''] = key.split('\u0000')
          checks.inc({ protocol, code, check_status: status }, n)
        }
      }
    })
    this.probeSeconds = new Histogram({
      name: 'hacheck_probe_duration_seconds',
      help: 'Duration of upstream probes (not cached answers, not spool answers), seconds.',
      labelNames: ['protocol'],
      buckets: PROBE_BUCKETS,
      registers
    })
    this.remoteSpool = new Counter({
      name: 'hacheck_remote_spool_requests_total',
      help: 'POST /spool/... requests, by HTTP status code answered.',
      labelNames: ['code'],
      registers
    })
    this.dropped = new Counter({
      name: 'hacheck_connections_dropped_total',
      help: 'Connections closed on arrival because max_connections was reached.',
      registers
    })
    this.refused = new Counter({
      name: 'hacheck_client_connections_refused_total',
      help: 'Connections closed on arrival because their client address already held max_connections_per_client (listener http) or agent_max_connections_per_client (listener agent).',
      labelNames: ['listener'],
      registers
    })
    // Cache counters live in the health service; copy them at scrape time.
    const statCounter = (name: string, help: string, read: () => number): void => {
      const counter: Counter = new Counter({
        name,
        help,
        registers,
        collect () { counter.reset(); counter.inc(read()) }
      })
    }
    statCounter('hacheck_cache_hits_total', 'Checker results answered from the cache.', () => health.stats().cache.hits)
    statCounter('hacheck_cache_misses_total', 'Cache lookups that had to probe.', () => health.stats().cache.misses)
    statCounter('hacheck_outbound_slot_timeouts_total', 'Checks answered 503 SOCKERR unprobed: no max_clients slot came free within healthcheck_timeout.',
      () => health.stats().outbound_slot_timeouts)
    const statGauge = (name: string, help: string, read: () => number): void => {
      const gauge: Gauge = new Gauge({ name, help, registers, collect () { gauge.set(read()) } })
    }
    statGauge('hacheck_outbound_in_flight', 'Upstream probes running now.', () => health.stats().outbound_in_flight)
    statGauge('hacheck_outbound_queue_size', 'Upstream probes waiting for a max_clients slot.',
      () => health.stats().outbound_request_queue_size)
    statGauge('hacheck_cache_entries', 'Checker results held in the cache.', () => health.cacheUsage().entries)
    statGauge('hacheck_cache_bytes', 'Bytes of checker results held in the cache, as counted against cache_max_bytes.', () => health.cacheUsage().bytes)
    const downGauge: Gauge = new Gauge({
      name: 'hacheck_spool_down_entries',
      help: 'Down entries in the spool (expired files not counted); NaN when the spool cannot be listed.',
      aggregator: 'max',
      registers,
      async collect () {
        try {
          downGauge.set((await spool.listDown()).length)
        } catch {
          downGauge.set(Number.NaN)
        }
      }
    })
    new Gauge({
      name: 'hacheck_build_info',
      help: 'Always 1; the version label says which hacheck this is.',
      labelNames: ['version'],
      aggregator: 'first',
      registers
    }).set({ version: VERSION }, 1)
    if (spool.fleet !== undefined) registerFleetMetrics(this.registry, spool.fleet)
    if (sources.load !== undefined) registerLoadMetrics(this.registry, sources.load)
    if (sources.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry })
      // prom-client names three gauges `*_total`, a counter's suffix, which `promtool check
      // metrics` rejects; each is the sum of the labelled gauge beside it (`nodejs_active_handles`
      // by type, ...), so `sum(nodejs_active_handles)` gives the same number.
      for (const name of REDUNDANT_TOTAL_GAUGES) this.registry.removeSingleMetric(name)
    }
  }

  /**
   * Records one answered check.
   *
   * @param status - the HTTP status answered.
   * @param checkStatus - the HAProxy check status of the answer (`L7OK`, `L4CON`, ...).
   */
  observeCheck (protocol: string, status: number, checkStatus: string): void {
    const key = `${protocol}\u0000${status}\u0000${checkStatus}`
    this.checkCounts.set(key, (this.checkCounts.get(key) ?? 0) + 1)
  }

  /** Records one answered remote spool change request. */
  observeRemoteSpool (status: number): void {
    this.remoteSpool.inc({ code: String(status) })
  }

  /** Records one connection dropped by `max_connections`. */
  observeDroppedConnection (): void {
    this.dropped.inc()
  }

  /** Records one connection closed on arrival by a per-client limit. */
  observeRefusedConnection (listener: 'http' | 'agent'): void {
    this.refused.inc({ listener })
  }

  /** The exposition format's content type. */
  get contentType (): string {
    return this.registry.contentType
  }

  /** This process's metrics in the Prometheus text format. */
  async text (): Promise<string> {
    return await this.registry.metrics()
  }
}
