/** Keys of the server process: logging, open files, connections and their timeouts, stopping. Keys keep hacheck's spelling (docs/configuration.md); ours are flat snake_case too. */
import { Type } from './json-schema.js'
import { Cidr, Nullable, type KeySpec } from './schema.js'

/** The server section of the config key table. */
export const serverKeys = {
  log_path: {
    schema: Type.String({ minLength: 1, default: 'stderr' }),
    expected: "'stdout', 'stderr' or a file path",
    description: 'where logs go; a file is created if absent, but its directory must exist (start-up fails otherwise, exit 1)',
    reference: true
  },
  rlimit_nofile: {
    schema: Nullable(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('max')])),
    default: null,
    expected: "an integer >= 1, 'max' or null",
    description: 'raise the open-files soft limit at start',
    reference: true
  },
  max_connections: {
    schema: Type.Integer({ minimum: 1, default: 4096 }),
    expected: 'an integer >= 1',
    description: 'concurrent client connections per listening port; more are closed on arrival'
  },
  // One HAProxy holds one connection per check in flight (200 for 200 servers whose checks all
  // hang: test/e2e/haproxy-connections.test.ts); one flooding address leaves 3/4 of the port free.
  max_connections_per_client: {
    schema: Type.Integer({ minimum: 1, default: 1024 }),
    expected: 'an integer >= 1',
    description: 'concurrent connections one client address may hold on an HTTP port; more from it are closed on arrival (a balancer holds one per check in flight)'
  },
  metrics_allowed_cidrs: {
    schema: Nullable(Type.Array(Cidr)),
    default: null,
    expected: 'a list of CIDR networks (e.g. 10.0.0.0/8), or null for any client',
    description: 'clients allowed to read `/metrics` (403 otherwise)'
  },
  keep_alive_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 5 }),
    expected: 'a number of seconds > 0',
    description: 'an idle keep-alive connection is closed after this'
  },
  // Long enough for any balancer's request (sent at once); short enough that a trickling
  // connection (slowloris) is closed within a health check's own timeout.
  request_header_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 5 }),
    expected: 'a number of seconds > 0',
    description: 'a client must send its request within this, else 408 and closed (slowloris, idle sockets); 5 s is ample for a health check'
  },
  shutdown_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 15 }),
    expected: 'a number of seconds > 0',
    description: 'bound on a graceful stop; past it the process exits 1'
  }
} satisfies Record<string, KeySpec>
