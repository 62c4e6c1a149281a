/**
 * `buildApp(config, deps)`: the Fastify application with every route registered. It never
 * listens; `server.ts` does, and tests use `app.inject()` or listen on port 0 themselves.
 *
 * All state (spool, health service, service log) is built outside and passed in, so several
 * apps (one per listening port) can share it and tests can build as many as they like.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { HealthService } from './health.js'
import checkRoutes from './routes/check.js'
import statusRoutes from './routes/status.js'
import { ServiceLog } from './service-log.js'
import type { Spool } from './spool.js'
import { localAddresses } from './target.js'
import { TransitionLog } from './transition-log.js'

/**
 * Fastify's request log lines replaced by one line per answered request, at debug level (so
 * only with `-v`): `<code> <method> <url> <ms>ms <client ip>`.
 */
class RequestLineLog extends LogController {
  override incomingRequest (): void {}
  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = `${reply.statusCode} ${request.method} ${request.url} ${reply.elapsedTime.toFixed(1)}ms ${request.ip}`
    if (error != null) request.log.warn({ err: error }, line)
    else request.log.debug(line)
  }
}

/** What an app is built from; only `spool` is required, the rest is built from it and config. */
export interface AppDeps {
  spool: Spool
  health?: HealthService
  serviceLog?: ServiceLog
  /** This machine's addresses (checked as 127.0.0.1); read from the interfaces by default. */
  localAddresses?: ReadonlySet<string>
  /** Clock in unix seconds. */
  now?: () => number
  /** Process start in unix seconds, for `/status` uptime. */
  startTime?: number
  /** Logger; none by default (tests). */
  logger?: Logger
}

/** {@link AppDeps} with every member present: what several apps of one server share. */
export type Runtime = Required<Omit<AppDeps, 'logger'>> & Pick<AppDeps, 'logger'>

/** Builds the shared state once; pass the result to each {@link buildApp} of a server. */
export function createRuntime (config: Config, deps: AppDeps): Runtime {
  const now = deps.now ?? (() => Date.now() / 1000)
  return {
    spool: deps.spool,
    health: deps.health ?? new HealthService({ config, spool: deps.spool, transitions: new TransitionLog({ logger: deps.logger }) }),
    serviceLog: deps.serviceLog ?? new ServiceLog({ now }),
    localAddresses: deps.localAddresses ?? localAddresses(),
    now,
    startTime: deps.startTime ?? now(),
    logger: deps.logger
  }
}

/**
 * Builds the application. Does not listen.
 *
 * @param config - validated config (see `config.ts`).
 * @param deps - shared state; see {@link AppDeps}.
 */
export async function buildApp (config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const rt = createRuntime(config, deps)
  const app = Fastify({
    ...(rt.logger === undefined ? { logger: false } : { loggerInstance: rt.logger as FastifyBaseLogger }),
    logController: new RequestLineLog(),
    // A restarting hacheck keeps answering checks until its socket closes: no 503 storm.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 255 }
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500
    if (status >= 500) request.log.error({ err }, 'request failed')
    return reply.code(status).type('text/plain; charset=utf-8').send(status >= 500 ? 'Internal Server Error' : err.message)
  })
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('text/html; charset=UTF-8').send('Not Found'))

  await app.register(statusRoutes, { health: rt.health, serviceLog: rt.serviceLog, startTime: rt.startTime, now: rt.now })
  await app.register(checkRoutes, { health: rt.health, serviceLog: rt.serviceLog, localAddresses: rt.localAddresses })
  return app
}
