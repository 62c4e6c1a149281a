/**
 * Keys of individual checkers: the credentials a protocol logs in with (mysql, postgres, redis),
 * and (ours) where those credentials may go (docs/roles.md "Where credentials go"). Keys keep
 * hacheck's spelling (docs/configuration.md); ours are flat snake_case too.
 */
import { Type } from './json-schema.js'
import { CIDR_ITEM, Cidr, Nullable, type KeySpec } from './schema.js'

/**
 * (ours) The `<protocol>_credential_hosts` and `_ports` keys: a probe to any other address or
 * port is refused (403) before it connects, so a client naming a port or a header address
 * never receives the password. Default: the protocol's standard port on 127.0.0.1.
 */
const credentialHosts = (protocol: string) => ({
  schema: Type.Array(Cidr, { maxItems: 1024 }),
  default: ['127.0.0.1/32'],
  expected: `a list of CIDR networks the ${protocol} credentials may go to`,
  item: CIDR_ITEM,
  description: `where the ${protocol} password may go; other addresses are a 403 before connecting (see [Where credentials go](roles.md#where-credentials-go))`
})
const credentialPorts = (protocol: string, port: number) => ({
  schema: Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), { maxItems: 1024 }),
  default: [port],
  expected: `a list of ports (1-65535) the ${protocol} credentials may go to`,
  item: 'a port 1-65535',
  description: `the ports the ${protocol} password may go to; others are a 403 before connecting`
})

/** The checkers section of the config key table. */
export const checkersKeys = {
  mysql_username: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)',
    description: 'credentials for the mysql checker',
    reference: true
  },
  mysql_password: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)',
    description: 'credentials for the mysql checker',
    reference: true
  },
  /** (ours) The postgres checker's login; null answers 500, as the mysql checker does without one. */
  postgres_username: {
    schema: Nullable(Type.String({ minLength: 1, maxLength: 63 })),
    default: null,
    expected: 'a user name (1-63 characters) or null',
    description: 'credentials for the postgres checker (no username: 500 `No PostgreSQL username in config file`); the password is used only when the server asks for SCRAM-SHA-256 (or md5 with `postgres_allow_md5`)'
  },
  /** (ours) Sent only when the server asks (md5, SCRAM-SHA-256); never read from PGPASSWORD or ~/.pgpass. */
  postgres_password: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)',
    description: 'credentials for the postgres checker (no username: 500 `No PostgreSQL username in config file`); the password is used only when the server asks for SCRAM-SHA-256 (or md5 with `postgres_allow_md5`)'
  },
  /** (ours) The database the postgres checker logs in to (`postgres` exists in every cluster). */
  postgres_database: {
    schema: Type.String({ minLength: 1, maxLength: 63 }),
    default: 'postgres',
    expected: 'a database name (1-63 characters)',
    description: 'the database the postgres checker logs in to'
  },
  mysql_credential_hosts: credentialHosts('mysql'),
  mysql_credential_ports: credentialPorts('mysql', 3306),
  postgres_credential_hosts: credentialHosts('postgres'),
  postgres_credential_ports: credentialPorts('postgres', 5432),
  /**
   * (ours) Answer a PostgreSQL server's md5 password request. Off: an md5 response, made with a
   * salt the server chooses, can be cracked offline by whoever listens on the port; SCRAM with
   * at least 4096 iterations is what hacheck answers without it.
   */
  postgres_allow_md5: {
    schema: Type.Boolean({ default: false }),
    expected: 'true or false',
    description: 'answer a PostgreSQL md5 password request (crackable offline); off: trust or SCRAM-SHA-256 only'
  },
  redis_credential_hosts: credentialHosts('redis'),
  redis_credential_ports: credentialPorts('redis', 6379),
  /** (ours) Redis 6+ ACL user for the redis checker; null with a password means AUTH <password> (the `default` user). */
  redis_username: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a string or null',
    description: '`AUTH` for the redis checker, sent only when a password is set (a username: a Redis 6+ ACL user)'
  },
  /** (ours) The redis checker sends AUTH only when this is set. */
  redis_password: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)',
    description: '`AUTH` for the redis checker, sent only when a password is set (a username: a Redis 6+ ACL user)'
  }
} satisfies Record<string, KeySpec>
