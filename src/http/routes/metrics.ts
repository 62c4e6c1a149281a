/**
 * `GET /metrics` (ours): Prometheus text format. With `-n` workers the text is the
 * aggregation over all workers (see `cluster.ts`), whichever worker answers the scrape.
 * With `metrics_allowed_cidrs` set, only clients inside those networks get it (403 otherwise),
 * so it can be restricted without a firewall.
 */
import type { FastifyInstance } from 'fastify'
import { AllowList } from '../../cidr.js'
import { HC_ERR_METRICS_NOT_ALLOWED } from '../../errors.js'
import { refuseOtherMethods } from './get-only.js'

/** What the metrics route needs. */
export interface MetricsRoutesOptions {
  /** The exposition text (this process's registry, or the cluster's aggregation). */
  render: () => Promise<string>
  contentType: string
  /** `metrics_allowed_cidrs`: who may scrape; null or absent for any client. */
  allowedCidrs?: readonly string[] | null
}

/** Registers `/metrics` (GET only: other methods get a 405). Not wrapped in fastify-plugin. */
export default async function metricsRoutes (app: FastifyInstance, opts: MetricsRoutesOptions): Promise<void> {
  const clients = opts.allowedCidrs === null || opts.allowedCidrs === undefined ? null : new AllowList(opts.allowedCidrs)
  app.get('/metrics', async (request, reply) => {
    if (clients !== null && !clients.allows(request.ip)) throw new HC_ERR_METRICS_NOT_ALLOWED(request.ip)
    return reply.type(opts.contentType).header('cache-control', 'no-store').send(await opts.render())
  })
  refuseOtherMethods(app, ['/metrics'])
}
