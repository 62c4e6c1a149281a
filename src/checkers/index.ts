/**
 * The checker registry: the one place a protocol is added (one file plus one line here).
 * Routes and the health service look protocols up here and know none by name.
 *
 * Folder checkers/ (this is its main file): one file per protocol, each a {@link Checker} that
 * turns a target into a result ("down" is a result, not an exception), plus their shared
 * socket, check-status and role-query (`roles.ts`) helpers. The lowest folder: may import
 * only the top-level leaves, and other folders by `import type` (a checker reads the config it
 * is handed); never Fastify. The config's entry point reads this registry to parse the checks
 * written in it (`check-url.ts` is their grammar).
 */
import { grpc } from './grpc.js'
import { grpcs } from './grpcs.js'
import { http } from './http.js'
import { https } from './https.js'
import { mysql } from './mysql.js'
import { script } from './script.js'
import { postgres } from './postgres.js'
import { redis } from './redis.js'
import { smtp } from './smtp.js'
import { spool } from './spool.js'
import { tcp } from './tcp.js'
import type { Checker } from './types.js'

/** Protocol name → checker: what `/<protocol>/...` serves. */
export const checkers = {
  http,
  https,
  tcp,
  mysql,
  postgres,
  redis,
  grpc,
  grpcs,
  smtp,
  script,
  spool
} as const satisfies Record<string, Checker>

/** Protocol name → checker: the shape of {@link checkers}; tests and embedders pass their own. */
export type CheckerRegistry = Readonly<Record<string, Checker>>

/** A protocol name hacheck serves, e.g. `spool`, `http`. */
export type Protocol = keyof typeof checkers

export type { Checker, CheckTarget } from './types.js'
