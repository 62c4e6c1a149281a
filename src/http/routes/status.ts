/**
 * Monitoring routes, JSON as the reference answers them (CONTRACT section 4):
 * `/status`, `/status/count`, `/recent?threshold=<seconds>`.
 */
import type { FastifyInstance } from 'fastify'
import type { HealthService } from '../../checks/health.js'
import type { ServiceLog } from '../../checks/service-log.js'
import { HC_ERR_BAD_THRESHOLD } from '../../errors.js'
import type { HttpStatusAnswer } from './http-status.js'

/** What the status routes need. */
export interface StatusRoutesOptions {
  health: HealthService
  serviceLog: ServiceLog
  /** Process start, unix seconds. */
  startTime: number
  now: () => number
  /** (ours) With `http_status_root` set: answers `/status?SERVICE=...` as http_status (see `http-status.ts`). */
  httpStatus?: HttpStatusAnswer | undefined
}

const JSON_TYPE = 'application/json; charset=UTF-8'
const DEFAULT_THRESHOLD_SECONDS = 600

/** Parses `threshold`: a non-negative number of seconds (fraction truncated), default 600. */
export function parseThreshold (value: string | undefined): number {
  if (value === undefined) return DEFAULT_THRESHOLD_SECONDS
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new HC_ERR_BAD_THRESHOLD(JSON.stringify(value))
  return Math.trunc(n)
}

/** Registers `/status`, `/status/count` and `/recent`. */
export default async function statusRoutes (app: FastifyInstance, opts: StatusRoutesOptions): Promise<void> {
  const { health, serviceLog, startTime, now } = opts

  app.get('/status', async (request, reply) => {
    const asHttpStatus = opts.httpStatus?.(request, reply)
    if (asHttpStatus !== undefined) return asHttpStatus
    const stats = health.stats()
    return reply.type(JSON_TYPE).send({
      cache: stats.cache,
      uptime: now() - startTime,
      outbound_request_queue_size: stats.outbound_request_queue_size
    })
  })

  app.get('/status/count', async (_request, reply) => {
    return reply.type(JSON_TYPE).send({ service_access_counts: serviceLog.accessCounts() })
  })

  app.get<{ Querystring: { threshold?: string | string[] } }>('/recent', async (request, reply) => {
    const raw = request.query.threshold
    const threshold = parseThreshold(Array.isArray(raw) ? raw[raw.length - 1] : raw)
    return reply.type(JSON_TYPE).send({ seen_services: serviceLog.recent(threshold), threshold_seconds: threshold })
  })
}
