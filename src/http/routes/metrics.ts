/**
 * `GET /metrics` (ours): Prometheus text format. With `-n` workers the text is the
 * aggregation over all workers (see `cluster.ts`), whichever worker answers the scrape.
 */
import type { FastifyInstance } from 'fastify'

/** What the metrics route needs. */
export interface MetricsRoutesOptions {
  /** The exposition text (this process's registry, or the cluster's aggregation). */
  render: () => Promise<string>
  contentType: string
}

/** Registers `/metrics`. Not wrapped in fastify-plugin. */
export default async function metricsRoutes (app: FastifyInstance, opts: MetricsRoutesOptions): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    return reply.type(opts.contentType).header('cache-control', 'no-store').send(await opts.render())
  })
}
