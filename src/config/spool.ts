/** Keys of the spool: where it lives, and who may change it over HTTP. Keys keep hacheck's spelling (docs/configuration.md); ours are flat snake_case too. */
import { Type } from './json-schema.js'
import { CIDR_ITEM, Cidr, Nullable, type KeySpec } from './schema.js'

/** The spool section of the config key table. */
export const spoolKeys = {
  spool_root: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a directory path or null'
  },
  allow_remote_spool_changes: {
    schema: Type.Boolean({ default: false }),
    expected: 'true or false'
  },
  remote_spool_token: {
    schema: Nullable(Type.String({ minLength: 16, pattern: '^[\\x21-\\x7e]+$' })),
    default: null,
    expected: 'a string of at least 16 printable characters without spaces, or null'
  },
  remote_spool_allowed_cidrs: {
    schema: Nullable(Type.Array(Cidr)),
    default: null,
    expected: 'a list of CIDR networks (e.g. 10.0.0.0/8), or null for any client',
    item: CIDR_ITEM
  }
} satisfies Record<string, KeySpec>
