/** Keys of individual checkers: the credentials a protocol logs in with. Keys keep hacheck's spelling (CONTRACT section 2); ours are flat snake_case too. */
import { Type } from '@sinclair/typebox'
import { Nullable, type KeySpec } from './schema.js'

/** The checkers section of the config key table. */
export const checkersKeys = {
  mysql_username: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)'
  },
  mysql_password: {
    schema: Nullable(Type.String()),
    default: null,
    expected: 'a string or null (quote it if YAML reads it as a number)'
  }
} satisfies Record<string, KeySpec>
