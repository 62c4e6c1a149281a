/**
 * Config → shared runtime → one app per port → listen. One `RunningServer` owns them all and
 * closes them together.
 */
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp, createRuntime, type AppDeps, type Runtime } from './app.js'
import type { Config } from './config.js'

/** Options for {@link startServer}. */
export interface ServerOptions extends AppDeps {
  config: Config
  /** Ports to listen on (0 picks a free one, for tests). */
  ports: readonly number[]
  /** Address to bind, IPv4 or IPv6 (`0.0.0.0`, `::`, `127.0.0.1`, ...). */
  bindAddress: string
  logger?: Logger
}

/** A listening hacheck. */
export interface RunningServer {
  readonly runtime: Runtime
  readonly apps: readonly FastifyInstance[]
  /** Where each app listens, in `ports` order. */
  readonly addresses: readonly AddressInfo[]
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close: () => Promise<void>
}

/**
 * Builds one app per port on a shared runtime and listens.
 *
 * @throws the listen error (e.g. EADDRINUSE) after closing whatever already listens.
 */
export async function startServer (opts: ServerOptions): Promise<RunningServer> {
  const runtime = createRuntime(opts.config, opts)
  const apps: FastifyInstance[] = []
  const addresses: AddressInfo[] = []
  const close = async (): Promise<void> => { await Promise.all(apps.map(async (app) => { await app.close() })) }
  try {
    for (const port of opts.ports) {
      const app = await buildApp(opts.config, runtime)
      apps.push(app)
      // A burst of connections must queue, not be dropped: the kernel caps this at somaxconn.
      await app.listen({ port, host: opts.bindAddress, backlog: Math.max(511, opts.config.max_connections) })
      addresses.push(app.server.address() as AddressInfo)
    }
  } catch (err) {
    await close()
    throw err
  }
  return { runtime, apps, addresses, close }
}
