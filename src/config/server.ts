/** Keys of the server process: logging, open files, connections and their timeouts, stopping. Keys keep hacheck's spelling (docs/configuration.md); ours are flat snake_case too. */
import { Type } from './json-schema.js'
import { Cidr, Nullable, type KeySpec } from './schema.js'

/** The server section of the config key table. */
export const serverKeys = {
  log_path: {
    schema: Type.String({ minLength: 1, default: 'stderr' }),
    expected: "'stdout', 'stderr' or a file path"
  },
  rlimit_nofile: {
    schema: Nullable(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('max')])),
    default: null,
    expected: "an integer >= 1, 'max' or null"
  },
  max_connections: {
    schema: Type.Integer({ minimum: 1, default: 4096 }),
    expected: 'an integer >= 1'
  },
  // One HAProxy holds one connection per check in flight (200 for 200 servers whose checks all
  // hang: test/e2e/haproxy-connections.test.ts); one flooding address leaves 3/4 of the port free.
  max_connections_per_client: {
    schema: Type.Integer({ minimum: 1, default: 1024 }),
    expected: 'an integer >= 1'
  },
  metrics_allowed_cidrs: {
    schema: Nullable(Type.Array(Cidr)),
    default: null,
    expected: 'a list of CIDR networks (e.g. 10.0.0.0/8), or null for any client'
  },
  keep_alive_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 5 }),
    expected: 'a number of seconds > 0'
  },
  // Long enough for any balancer's request (sent at once); short enough that a trickling
  // connection (slowloris) is closed within a health check's own timeout.
  request_header_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 5 }),
    expected: 'a number of seconds > 0'
  },
  shutdown_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 15 }),
    expected: 'a number of seconds > 0'
  }
} satisfies Record<string, KeySpec>
