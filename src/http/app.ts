/**
 * `buildApp(config, deps)`: the Fastify application with every route registered. It never
 * listens; `server.ts` does, and tests use `app.inject()` or listen on port 0 themselves.
 *
 * All state (spool, health service, service log) is built outside and passed in, so several
 * apps (one per listening port) can share it and tests can build as many as they like.
 *
 * Folder http/ (this is its main file): the Fastify app, server start-up (`server.ts`, which
 * also starts the agent-check server beside the apps) and `routes/`. The only folder besides
 * `cli/` that imports Fastify; may import every folder but `cli/`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { checkers as defaultCheckers, type CheckerRegistry } from '../checkers/index.js'
import { isPassingStatus } from '../checkers/status.js'
import { CheckGuard } from '../checks/check-guard.js'
import { GroupService } from '../checks/groups.js'
import { HealthService } from '../checks/health.js'
import { LatencyHistory } from '../checks/latency-history.js'
import { ServiceLog } from '../checks/service-log.js'
import { localAddresses } from '../checks/target.js'
import { STATE_CHANGE_CATEGORY, TransitionLog } from '../checks/transition-log.js'
import type { Config } from '../config/index.js'
import { limitConnectionsPerClient } from '../ops/conn-limit.js'
import { LoadSampler } from '../ops/load-weight.js'
import { LogLimiter, STATE_CHANGE_BUDGET } from '../ops/log-limit.js'
import { Metrics } from '../ops/metrics.js'
import type { Spool } from '../spool/spool.js'
import { CLOSE_GRACE_MS, finishConnectionsOnClose } from './close-grace.js'
import checkRoutes from './routes/check.js'
import groupRoutes from './routes/group.js'
import { httpStatusAnswer } from './routes/http-status.js'
import metricsRoutes from './routes/metrics.js'
import pageRoutes from './routes/page.js'
import remoteSpoolRoutes, { REMOTE_SPOOL_BODY_LIMIT } from './routes/remote-spool.js'
import statusRoutes, { fleetStatus, loadWeightStatus } from './routes/status.js'
import fleetRoutes from './routes/fleet.js'

/**
 * Fastify's request log lines replaced by one line per answered request, at debug level (so
 * only with `-v`): `<code> <method> <url> <ms>ms <client ip>`. A request that failed (4xx/5xx
 * errors) is a warning, rate-limited per client and status (a client must not fill the disk).
 */
class RequestLineLog extends LogController {
  /**
   * @param lines - whether request lines are written at all (the logger is at debug: `-v`).
   * @param limiter - rate limit for the warnings (category `request-error`).
   */
  constructor (private readonly lines: boolean, private readonly limiter: Pick<LogLimiter, 'allow'>) {
    super()
  }

  override incomingRequest (): void {}
  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // Built only when written: this runs for every request, and without -v nothing is.
    if (error == null && !this.lines) return
    if (error != null && !this.limiter.allow('request-error', `${reply.statusCode} ${request.ip}`)) return
    const line = `${reply.statusCode} ${request.method} ${request.url.slice(0, 512)} ${reply.elapsedTime.toFixed(1)}ms ${request.ip}`
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
  nowSeconds?: () => number
  /** Process start in unix seconds, for `/status` uptime. */
  startTime?: number
  /** Logger; none by default (tests). */
  logger?: Logger
  /**
   * Logger for events written whatever the level (`HacheckLogger.ops`): check results that
   * flip between passing and failing. `logger` by default.
   */
  opsLogger?: Logger
  /** Prometheus metrics of this process; built on the health service and spool by default. */
  metrics?: Metrics
  /** Decides where probes may go; built from `allowed_check_networks` by default. */
  checkGuard?: CheckGuard
  /**
   * What `/metrics` answers; this process's registry by default. Cluster workers pass the
   * aggregation over all workers (see `cluster.ts`).
   */
  renderMetrics?: () => Promise<string>
  /**
   * The checker registry: protocols the routes serve and the health service runs. The built-in
   * one by default; tests and embedders may add protocols (e.g. a deliberately slow one).
   */
  checkers?: CheckerRegistry
  /** (ours) Runs the configured check groups; built from the config's parsed `groups` by default. */
  groups?: GroupService
  /** (ours) The last state changes, for the status page; the health service's own by default. */
  transitions?: TransitionLog
  /** (ours) Probe latency per service, for the status page; fed by the health service's probes by default. */
  latency?: LatencyHistory
  /** Rate limits for log lines clients can cause; built on `logger` by default. */
  logLimiter?: LogLimiter
  /**
   * (ours) The load-weight sampler; built and started from `config.loadWeight` by default (none
   * when load weights are off). Whoever builds the runtime stops it (`server.ts`; an app built
   * on its own stops its own on close).
   */
  load?: LoadSampler | undefined
}

/** {@link AppDeps} with every member present: what several apps of one server share. */
export type Runtime = Required<Omit<AppDeps, 'logger' | 'opsLogger' | 'renderMetrics' | 'load'>> & Pick<AppDeps, 'logger' | 'opsLogger' | 'renderMetrics' | 'load'>

/** Largest request header section accepted, bytes (Node answers 431 beyond it). */
export const MAX_HEADER_SIZE = 16384

/** Builds the shared state once; pass the result to each {@link buildApp} of a server. */
export function createRuntime (config: Config, deps: AppDeps): Runtime {
  const nowSeconds = deps.nowSeconds ?? (() => Date.now() / 1000)
  const checkers = deps.checkers ?? defaultCheckers
  const logLimiter = deps.logLimiter ?? new LogLimiter({
    logger: deps.logger ?? deps.opsLogger,
    categories: { [STATE_CHANGE_CATEGORY]: STATE_CHANGE_BUDGET }
  })
  const transitions = deps.transitions ?? new TransitionLog({ logger: deps.opsLogger ?? deps.logger, nowSeconds, limiter: logLimiter })
  const health = deps.health ?? new HealthService({ config, spool: deps.spool, checkers, transitions })
  const checkGuard = deps.checkGuard ?? new CheckGuard({ networks: config.allowed_check_networks, timeoutMs: config.healthcheck_timeout * 1000 })
  const groups = deps.groups ?? new GroupService({ groups: config.checkGroups, health, guard: checkGuard, checkers, failureCode: config.group_failure_code })
  const load = deps.load ?? (config.loadWeight === null ? undefined : new LoadSampler({ settings: config.loadWeight, logger: deps.opsLogger ?? deps.logger }).start())
  let latency = deps.latency
  if (latency === undefined) {
    const history = new LatencyHistory({ nowSeconds })
    health.onProbe((_protocol, result, target) => { history.record(target.service, result.durationMs, isPassingStatus(result.checkStatus)) })
    latency = history
  }
  return {
    spool: deps.spool,
    checkers,
    health,
    transitions,
    latency,
    metrics: deps.metrics ?? new Metrics({ health, spool: deps.spool, load }),
    checkGuard,
    groups,
    renderMetrics: deps.renderMetrics,
    serviceLog: deps.serviceLog ?? new ServiceLog({ nowSeconds }),
    localAddresses: deps.localAddresses ?? localAddresses(),
    nowSeconds,
    startTime: deps.startTime ?? nowSeconds(),
    logLimiter,
    logger: deps.logger,
    opsLogger: deps.opsLogger,
    load
  }
}

/**
 * Builds the application. Does not listen.
 *
 * @param config - validated config (see `config.ts`).
 * @param deps - shared state; see {@link AppDeps}.
 */
export async function buildApp (config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const ownsLoad = deps.load === undefined
  const rt = createRuntime(config, deps)
  const app = Fastify({
    ...(rt.logger === undefined
      ? { logger: false }
      : {
          loggerInstance: rt.logger as FastifyBaseLogger,
          // A child logger per request (for its reqId) is worth it only when request lines are
          // written (-v); otherwise requests log through the shared logger, one allocation less.
          ...(rt.logger.isLevelEnabled('debug') ? {} : { childLoggerFactory: (logger: FastifyBaseLogger) => logger })
        }),
    logController: new RequestLineLog(rt.logger?.isLevelEnabled('debug') === true, rt.logLimiter),
    // A bad percent-escape or an over-long path segment is a URL like any other that names no
    // route: the plain 404, not a JSON error.
    frameworkErrors: (_error, _request, reply) => { (reply as FastifyReply).code(404).type('text/html; charset=UTF-8').send('Not Found') },
    // A restarting hacheck keeps answering checks until its socket closes: no 503 storm.
    return503OnClosing: false,
    // On close, idle keep-alive sockets are closed at once instead of holding the close open.
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 255 },
    // Request hygiene: nothing hacheck accepts is bigger than a small form.
    bodyLimit: REMOTE_SPOOL_BODY_LIMIT,
    keepAliveTimeout: config.keep_alive_timeout * 1000,
    // Covers connections that send nothing or trickle headers (slowloris): 408, then closed.
    requestTimeout: config.request_header_timeout * 1000,
    // No idle-socket timeout: it would also cut a check waiting for a slow upstream.
    connectionTimeout: 0,
    http: {
      maxHeaderSize: MAX_HEADER_SIZE,
      headersTimeout: config.request_header_timeout * 1000,
      requestTimeout: config.request_header_timeout * 1000,
      connectionsCheckingInterval: Math.min(1000, config.request_header_timeout * 500)
    }
  })
  // While stopping, every answer closes its connection, so a keep-alive socket that was busy
  // when the stop began does not hold the stop open until keep_alive_timeout.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  if (ownsLoad) app.addHook('onClose', async () => { rt.load?.stop() })
  // Callback style, not async: this runs for every answer and a promise each is measurable.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
  app.server.maxConnections = config.max_connections
  app.server.on('drop', () => { rt.metrics.observeDroppedConnection() })
  limitConnectionsPerClient(app.server, {
    maxPerClient: config.max_connections_per_client,
    maxTotal: config.max_connections,
    onRefused: (client, open) => {
      rt.metrics.observeRefusedConnection('http')
      if (rt.logLimiter.allow('connection-limit', client)) {
        rt.logger?.warn({ client, open, max_connections_per_client: config.max_connections_per_client }, 'client holds max_connections_per_client connections, or many while the port is busy: new ones are closed on arrival')
      }
    }
  })
  finishConnectionsOnClose(app, Math.min(CLOSE_GRACE_MS, config.keep_alive_timeout * 1000))

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500
    if (status >= 500 && rt.logLimiter.allow('request-failed', request.ip)) request.log.error({ err }, 'request failed')
    return reply.code(status).type('text/plain; charset=utf-8').send(status >= 500 ? 'Internal Server Error' : err.message)
  })
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('text/html; charset=UTF-8').send('Not Found'))

  const httpStatus = config.http_status_root === null ? undefined : httpStatusAnswer({ root: config.http_status_root, spool: rt.spool })
  await app.register(statusRoutes, { health: rt.health, serviceLog: rt.serviceLog, startTime: rt.startTime, nowSeconds: rt.nowSeconds, httpStatus, fleet: rt.spool.fleet, load: rt.load })
  await app.register(groupRoutes, { groups: rt.groups, serviceLog: rt.serviceLog, metrics: rt.metrics })
  await app.register(checkRoutes, {
    health: rt.health, serviceLog: rt.serviceLog, localAddresses: rt.localAddresses, checkGuard: rt.checkGuard, metrics: rt.metrics, checkers: rt.checkers, logLimiter: rt.logLimiter
  })
  const budget = config.fleet === null || !config.allow_remote_spool_changes ? undefined : new (await import('../fleet/host-budget.js')).HostBudget(config.fleet)
  if (budget !== undefined) app.addHook('onClose', async () => { await budget.stop() })
  await app.register(remoteSpoolRoutes, { config, spool: rt.spool, metrics: rt.metrics, logLimiter: rt.logLimiter, budget })
  const render = rt.renderMetrics ?? (async () => await rt.metrics.text())
  await app.register(metricsRoutes, { render, contentType: rt.metrics.contentType, allowedCidrs: config.metrics_allowed_cidrs })
  if (config.fleet !== null) await app.register(fleetRoutes, { settings: config.fleet })
  const fleet = rt.spool.fleet
  const load = rt.load
  await app.register(pageRoutes, {
    config,
    ...rt,
    fleet: fleet === undefined ? undefined : () => fleetStatus(fleet),
    loadWeight: load === undefined ? undefined : () => loadWeightStatus(load)
  })
  return app
}
