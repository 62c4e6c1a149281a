/**
 * The answer of a GET-only route to any other method: 405 with `Allow: GET, HEAD`, as the
 * check routes answer (docs/http-api.md "Monitoring routes"). The reference (Tornado) answers
 * 405 without `Allow`; RFC 9110 section 15.5.6 requires it. Answered in `onRequest`, before
 * any body is parsed, so a body of any type or size gets the 405 (never a 413 or 415).
 *
 * Not wrapped in fastify-plugin: routes register it beside their own GET.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** The methods refused on a GET-only route (GET and HEAD are the route's own). */
export const REFUSED_METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const

async function methodNotAllowed (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  return await reply.code(405).header('allow', 'GET, HEAD').type('text/html; charset=UTF-8').send('Method Not Allowed')
}

/** Answers {@link REFUSED_METHODS} on each of `urls` with the 405. */
export function refuseOtherMethods (app: FastifyInstance, urls: readonly string[]): void {
  for (const url of urls) app.route({ method: [...REFUSED_METHODS], url, onRequest: methodNotAllowed, handler: methodNotAllowed })
}
