/**
 * Monitoring routes, JSON as the reference answers them (docs/http-api.md "Monitoring routes"):
 * `/status`, `/status/count`, `/recent?threshold=<seconds>`.
 */
import type { FastifyInstance } from 'fastify'
import type { HealthService } from '../../checks/health.js'
import type { ServiceLog } from '../../checks/service-log.js'
import { HC_ERR_BAD_THRESHOLD } from '../../errors.js'
import type { HttpStatusAnswer } from './http-status.js'
import type { FleetView } from '../../fleet/view.js'
import type { LoadSampler } from '../../ops/load-weight.js'
import { refuseOtherMethods } from './get-only.js'

/** What the status routes need. */
export interface StatusRoutesOptions {
  health: HealthService
  serviceLog: ServiceLog
  /** Process start, unix seconds. */
  startTime: number
  /** Clock, unix seconds. */
  nowSeconds: () => number
  /** (ours) With `http_status_root` set: answers `/status?SERVICE=...` as http_status (see `http-status.ts`). */
  httpStatus?: HttpStatusAnswer | undefined
  /** (ours) The fleet view, when a fleet is configured: `/status` then shows its state. */
  fleet?: Pick<FleetView, 'status'> | undefined
  /** (ours) The load-weight sampler, when load weights are on: `/status` then shows each scope. */
  load?: Pick<LoadSampler, 'scopes' | 'settings'> | undefined
}

const JSON_TYPE = 'application/json; charset=UTF-8'
const DEFAULT_THRESHOLD_SECONDS = 600

/**
 * Parses `threshold`: plain decimal seconds (`600`, `1.5`; fraction truncated), default 600.
 * Hex, exponents, signs and blanks, which `Number()` would take, are a 400.
 */
export function parseThreshold (value: string | undefined): number {
  if (value === undefined) return DEFAULT_THRESHOLD_SECONDS
  if (!/^[0-9]{1,15}(\.[0-9]*)?$/.test(value)) throw new HC_ERR_BAD_THRESHOLD(JSON.stringify(value.slice(0, 64)))
  return Math.trunc(Number(value))
}

/**
 * (ours) The `fleet` member of `/status`: whether the watch on etcd is up, the revision the view
 * reflects, seconds since it was last known current (0 while connected, null before the first
 * read), the keys held, this host's name and prefix, and `over_limit` (null, or the keys this
 * host should hold and the limit: every service then answers down; docs/fleet.md "Limits").
 */
export function fleetStatus (fleet: Pick<FleetView, 'status'>): Record<string, unknown> {
  const st = fleet.status()
  return {
    connected: st.connected,
    revision: st.revision,
    seconds_since_last_sync: st.lastSyncAgeSeconds === null ? null : Math.round(st.lastSyncAgeSeconds * 1000) / 1000,
    entries: st.entries,
    host: st.host,
    prefix: st.prefix,
    over_limit: st.overLimit
  }
}

/**
 * (ours) The `load_weight` member of `/status` (docs/http-api.md "Monitoring routes"): the rule's
 * settings, then each scope (`all`: the host's PSI files, used by every service without a cgroup
 * of its own; then each service of `load_weight_cgroups`) with the weight in use, what the rule
 * gave before hysteresis, the pressure it counted and each input: the file, its `some` line or
 * why it is ignored. Times in unix seconds.
 */
export function loadWeightStatus (load: Pick<LoadSampler, 'scopes' | 'settings'>): Record<string, unknown> {
  const s = load.settings
  return {
    sources: s.sources,
    window: s.window,
    factor: s.factor,
    floor: s.floor,
    hysteresis: s.hysteresis,
    interval_seconds: s.intervalMs / 1000,
    scopes: load.scopes().map((scope) => ({
      service: scope.service,
      kind: scope.kind,
      dir: scope.dir,
      weight: scope.weight,
      computed: scope.computed,
      pressure: scope.pressure,
      sampled_at: scope.sampledAtMs === null ? null : scope.sampledAtMs / 1000,
      inputs: scope.inputs.map((input) => ({
        resource: input.resource,
        path: input.path,
        some: input.some === null ? null : { avg10: input.some.avg10, avg60: input.some.avg60, avg300: input.some.avg300, total_us: input.some.totalUs },
        error: input.error
      }))
    }))
  }
}

/** Registers `/status`, `/status/count` and `/recent` (GET only: other methods get a 405). */
export default async function statusRoutes (app: FastifyInstance, opts: StatusRoutesOptions): Promise<void> {
  const { health, serviceLog, startTime, nowSeconds, fleet, load } = opts

  app.get('/status', async (request, reply) => {
    const asHttpStatus = opts.httpStatus?.(request, reply)
    if (asHttpStatus !== undefined) return asHttpStatus
    const stats = health.stats()
    return reply.type(JSON_TYPE).send({
      cache: stats.cache,
      uptime: nowSeconds() - startTime,
      outbound_request_queue_size: stats.outbound_request_queue_size,
      // (ours) checks answered unprobed because no max_clients slot came free in time
      outbound_slot_timeouts: stats.outbound_slot_timeouts,
      ...(fleet === undefined ? {} : { fleet: fleetStatus(fleet) }),
      ...(load === undefined ? {} : { load_weight: loadWeightStatus(load) })
    })
  })

  app.get('/status/count', async (_request, reply) => {
    const { uncounted, maxCounts } = serviceLog.uncountedRequests
    // (ours) The counts are bounded: say how many requests they leave out, and the bound.
    return reply.type(JSON_TYPE).send(`{"service_access_counts":${serviceLog.accessCountsJson()},"uncounted_requests":${uncounted},"max_counted_pairs":${maxCounts}}`)
  })

  app.get<{ Querystring: { threshold?: string | string[] } }>('/recent', async (request, reply) => {
    const raw = request.query.threshold
    const threshold = parseThreshold(Array.isArray(raw) ? raw[raw.length - 1] : raw)
    return reply.type(JSON_TYPE).send(`{"seen_services":${serviceLog.recentJson(threshold)},"threshold_seconds":${threshold}}`)
  })
  refuseOtherMethods(app, ['/status', '/status/count', '/recent'])
}
