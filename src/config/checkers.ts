/** Keys of individual checkers: the credentials a protocol logs in with (mysql, postgres, redis). Keys keep hacheck's spelling (docs/configuration.md); ours are flat snake_case too. */
import { Type } from './json-schema.js'
import { Nullable, type KeySpec } from './schema.js'

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
    description: 'credentials for the postgres checker (no username: 500 `No PostgreSQL username in config file`); the password is sent only when the server asks for md5 or SCRAM-SHA-256'
  },
  /** (ours) Sent only when the server asks (md5, SCRAM-SHA-256); never read from PGPASSWORD or ~/.pgpass. */
  postgres_password: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)',
    description: 'credentials for the postgres checker (no username: 500 `No PostgreSQL username in config file`); the password is sent only when the server asks for md5 or SCRAM-SHA-256'
  },
  /** (ours) The database the postgres checker logs in to (`postgres` exists in every cluster). */
  postgres_database: {
    schema: Type.String({ minLength: 1, maxLength: 63 }),
    default: 'postgres',
    expected: 'a database name (1-63 characters)',
    description: 'the database the postgres checker logs in to'
  },
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
