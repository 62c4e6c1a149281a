/**
 * (ours) The status page: what this host tells its balancers, live.
 *
 * - `GET /`: the page (HTML; its script and style from `/page/app.js`, `/page/style.css`);
 * - `GET /page/data`: the page's data as JSON (see `page/snapshot.ts`);
 * - `GET /page/events`: the same data as server-sent events, a fresh snapshot every second.
 *
 * None of these paths can match a check route (`/<protocol>/<service>/<port>...` has at least
 * three segments). Actions on the page go through the remote spool route (`remote-spool.ts`),
 * with its own rules; nothing here writes.
 *
 * Safe by construction: every answer carries a Content-Security-Policy that allows only this
 * origin's script and style (no inline script, no other origin, no framing, no form posts),
 * `nosniff` and `no-referrer`; the script renders every value as text. Access follows
 * `/status`'s rules, decided in {@link pageAccess} alone.
 *
 * Not wrapped in fastify-plugin: its hooks stay local.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { loadPageAssets, type PageAsset, type PageAssets } from '../page/assets.js'
import { buildSnapshot, type PageSources } from '../page/snapshot.js'
import { PageStream } from '../page/stream.js'
import { refuseOtherMethods } from './get-only.js'

/** What the page routes need: the server's shared state (see `app.ts` `Runtime`). */
export interface PageRoutesOptions extends PageSources {
  /** The page's files; read from `page/static/` by default. */
  assets?: PageAssets
  /** Snapshot interval of the live stream, ms; default 1000. */
  intervalMs?: number
  /** Most open live streams; default 32. */
  maxStreams?: number
}

/** Headers on every page answer (HTML, assets, data, events). */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY'
}

/** `Cache-Control` of an asset fetched by its hashed URL: it never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * Who may see the page and its data: the one place that decides. Today the page follows
 * `/status`, which answers everyone; an access list for the monitoring routes goes here.
 *
 * @returns true to serve the request; false when `reply` has been answered with a refusal.
 */
function pageAccess (_request: FastifyRequest, _reply: FastifyReply): boolean {
  return true
}

function sendAsset (request: FastifyRequest, reply: FastifyReply, file: PageAsset, cacheControl: string): FastifyReply {
  reply.header('etag', file.etag).header('cache-control', cacheControl)
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send()
  return reply.type(file.contentType).send(file.body)
}

/** Registers `/`, `/page/app.js`, `/page/style.css`, `/page/data` and `/page/events` (GET only: other methods get a 405). */
export default async function pageRoutes (app: FastifyInstance, opts: PageRoutesOptions): Promise<void> {
  let assets: PageAssets | undefined = opts.assets
  if (assets === undefined) {
    // A broken install loses the page, never the checks: start anyway and say why.
    try {
      assets = await loadPageAssets()
    } catch (err) {
      app.log.warn({ err }, 'status page disabled: its files cannot be read')
    }
  }
  const stream = new PageStream({
    build: async () => JSON.stringify(await buildSnapshot(opts)),
    intervalMs: opts.intervalMs,
    maxClients: opts.maxStreams,
    onError: (err) => { app.log.error({ err }, 'status page snapshot failed') }
  })

  app.addHook('onRequest', async (request, reply) => {
    if (!pageAccess(request, reply)) return reply
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.headers(PAGE_SECURITY_HEADERS)
    done(null, payload)
  })
  app.addHook('preClose', async () => { stream.close() })

  app.get('/', async (request, reply) => {
    if (assets === undefined) return await reply.code(503).type('text/plain; charset=utf-8').send('status page files are missing from this installation')
    return sendAsset(request, reply, assets.index, 'no-cache')
  })

  app.get<{ Params: { file: string }, Querystring: { v?: unknown } }>('/page/:file', async (request, reply) => {
    const file = assets?.files.get(request.params.file)
    if (file === undefined) return await reply.code(404).type('text/plain; charset=utf-8').send('Not Found')
    return sendAsset(request, reply, file, request.query.v === file.hash ? IMMUTABLE : 'no-cache')
  })

  app.get('/page/data', async (_request, reply) => {
    return await reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(await stream.snapshot())
  })

  app.get('/page/events', async (request, reply) => {
    if (stream.full) {
      return await reply.code(503).header('retry-after', '5').type('text/plain; charset=utf-8').send('too many open status pages')
    }
    // HEAD gets the head only: a stream no one reads would hold a slot.
    if (request.method === 'HEAD') return await reply.header('cache-control', 'no-store').type('text/event-stream; charset=utf-8').send()
    reply.hijack()
    reply.raw.writeHead(200, {
      ...PAGE_SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // The socket belongs to this stream: closed when it ends (a stopping server ends it).
      connection: 'close',
      'x-accel-buffering': 'no'
    })
    stream.add(reply.raw)
    request.log.debug({ client: request.ip, streams: stream.size }, 'status page stream opened')
  })
  refuseOtherMethods(app, ['/', '/page/:file', '/page/data', '/page/events'])
}
