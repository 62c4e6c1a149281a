/**
 * Config → shared runtime → one app per port → listen. One `RunningServer` owns them all and
 * closes them together. (ours) With an agent port, the agent-check server shares the runtime
 * (spool, health service, cache, limiter) and the same lifecycle.
 */
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { startAgentServer, type AgentServer } from '../agent/server.js'
import type { AnswerListener } from '../checks/health.js'
import type { Config } from '../config/index.js'
import type { ActivatedSockets } from '../ops/socket-activation.js'
import { buildApp, createRuntime, type AppDeps, type Runtime } from './app.js'

/** Options for {@link startServer}. */
export interface ServerOptions extends AppDeps {
  config: Config
  /** Ports to listen on (0 picks a free one, for tests). */
  ports: readonly number[]
  /** Address to bind, IPv4 or IPv6 (`0.0.0.0`, `::`, `127.0.0.1`, ...). */
  bindAddress: string
  logger?: Logger
  /** (ours) Agent-check port (0 picks one); overrides config `agent_port`; null or absent: the config's. */
  agentPort?: number | null | undefined
  /**
   * (ours) Sockets passed by systemd (docs/operator-guide.md "Restarts and upgrades"): the HTTP
   * apps listen on `http` instead of `ports`, the agent server on `agent` when passed (else as
   * configured).
   */
  activated?: ActivatedSockets | undefined
  /**
   * (ours) Told every answer, registered before anything listens so that no answer is missed
   * (the fleet status publisher's answer book, docs/fleet.md "Fleet status").
   */
  onAnswer?: AnswerListener | undefined
}

/** A listening hacheck. */
export interface RunningServer {
  readonly runtime: Runtime
  readonly apps: readonly FastifyInstance[]
  /** Where each app listens, in `ports` order. */
  readonly addresses: readonly AddressInfo[]
  /** (ours) The agent-check server, when an agent port is configured. */
  readonly agent: AgentServer | undefined
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close: () => Promise<void>
}

/**
 * Builds one app per port on a shared runtime and listens; starts the agent-check server when
 * `agentPort` or config `agent_port` is set (on `agent_bind`, else `bindAddress`).
 *
 * @throws the listen error (e.g. EADDRINUSE), or HC_ERR_CONFIG for a bad `agent_checks`
 *   entry, after closing whatever already listens.
 */
export async function startServer (opts: ServerOptions): Promise<RunningServer> {
  const runtime = createRuntime(opts.config, opts)
  if (opts.onAnswer !== undefined) runtime.health.onAnswer(opts.onAnswer)
  const apps: FastifyInstance[] = []
  const addresses: AddressInfo[] = []
  let agent: AgentServer | undefined
  const close = async (): Promise<void> => {
    await Promise.all([...apps.map(async (app) => { await app.close() }), agent?.close()])
    runtime.load?.stop()
    runtime.logLimiter.close() // writes the last "lines suppressed" summaries
  }
  try {
    // A burst of connections must queue, not be dropped: the kernel caps this at somaxconn.
    const backlog = Math.max(511, opts.config.max_connections)
    // Fastify hands these options to net.Server.listen, which takes `fd` before `port`.
    const targets = opts.activated?.http.map((fd) => ({ fd, port: 0 })) ?? opts.ports.map((port) => ({ port }))
    for (const target of targets) {
      const app = await buildApp(opts.config, runtime)
      apps.push(app)
      await app.listen({ ...target, host: opts.bindAddress, backlog })
      addresses.push(app.server.address() as AddressInfo)
    }
    const agentFd = opts.activated?.agent
    const agentPort = opts.agentPort ?? opts.config.agent_port
    if (agentPort !== null || agentFd !== undefined) {
      agent = await startAgentServer({
        config: opts.config,
        health: runtime.health,
        spool: runtime.spool,
        load: runtime.load,
        port: agentPort ?? 0,
        host: opts.config.agent_bind ?? opts.bindAddress,
        fd: agentFd,
        logger: opts.logger,
        onRefused: (client, open) => {
          runtime.metrics.observeRefusedConnection('agent')
          if (runtime.logLimiter.allow('connection-limit', client)) {
            opts.logger?.warn({ client, open, agent_max_connections_per_client: opts.config.agent_max_connections_per_client },
              'client holds agent_max_connections_per_client agent connections: new ones are closed on arrival')
          }
        }
      })
    }
  } catch (err) {
    await close()
    throw err
  }
  return { runtime, apps, addresses, agent, close }
}
