/**
 * (ours) `GET /fleet.json[?service=NAME]`: what every host of the fleet publishes (docs/http-api.md
 * "Fleet status"): per service the host counts by state, and with `service` that service's
 * hosts. Read from etcd by `fleet/status-reader.ts` (at most one read a second per question,
 * never on the check path); 503 with the reason when etcd cannot be read. Registered only
 * when a fleet is configured.
 */
import type { FastifyInstance } from 'fastify'
import type { FleetSettings } from '../../config/fleet.js'
import { parseSpoolFileName } from '../../spool/format.js'
import { refuseOtherMethods } from './get-only.js'

/** What the route needs. */
export interface FleetRoutesOptions {
  settings: FleetSettings
}

/** Registers `/fleet.json` (GET only). Not wrapped in fastify-plugin. */
export default async function fleetRoutes (app: FastifyInstance, opts: FleetRoutesOptions): Promise<void> {
  const { FleetStatusReader } = await import('../../fleet/status-reader.js')
  const reader = new FleetStatusReader(opts.settings)
  app.addHook('onClose', async () => { await reader.stop() })
  app.get<{ Querystring: { service?: string } }>('/fleet.json', async (request, reply) => {
    const service = request.query.service
    if (service !== undefined && (typeof service !== 'string' || service === 'all' || parseSpoolFileName(service)?.port !== undefined || parseSpoolFileName(service) === null)) {
      return await reply.code(400).type('text/plain; charset=utf-8').send('service must be a service name')
    }
    try {
      return await reply.header('cache-control', 'no-store').send(await reader.read(service))
    } catch (err) {
      return await reply.code(503).header('cache-control', 'no-store').send({ error: `etcd: ${(err as Error).message.split('\n')[0]?.slice(0, 300) ?? ''}` })
    }
  })
  refuseOtherMethods(app, ['/fleet.json'])
}
