/** Keys of the HAProxy agent-check server. Keys keep hacheck's spelling (CONTRACT section 2); ours are flat snake_case too. */
import { Type } from './json-schema.js'
import { Nullable, type KeySpec } from './schema.js'

/** The agent section of the config key table. */
export const agentKeys = {
  agent_port: {
    schema: Nullable(Type.Integer({ minimum: 0, maximum: 65535 })),
    default: null,
    expected: 'a port 0-65535 or null (no agent-check server)'
  },
  agent_bind: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'an address or null (the -B address)'
  },
  // HAProxy holds one agent connection per server check in flight (200 for 200 servers whose
  // checks all hang: test/e2e/haproxy-connections.test.ts); idle ones cost a socket each.
  agent_max_connections: {
    schema: Type.Integer({ minimum: 1, default: 4096 }),
    expected: 'an integer >= 1'
  },
  agent_max_connections_per_client: {
    schema: Type.Integer({ minimum: 1, default: 1024 }),
    expected: 'an integer >= 1'
  },
  agent_checks: {
    schema: Type.Record(
      Type.String({ pattern: '^[.a-zA-Z0-9_-]+$' }),
      Type.String({ pattern: '^[a-z0-9]+/[0-9]{1,5}(/.*)?$' }),
      { additionalProperties: false }
    ),
    default: {},
    expected: 'a mapping of service names to checks <protocol>/<port>/<query>',
    item: 'a check <protocol>/<port>/<query> (e.g. http/8080/health or tcp/5432)',
    name: 'a service name ([.a-zA-Z0-9_-]+)'
  }
} satisfies Record<string, KeySpec>
