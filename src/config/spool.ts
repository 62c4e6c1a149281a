/** Keys of the spool: where it lives, and who may change it over HTTP. Keys keep hacheck's spelling (docs/configuration.md); ours are flat snake_case too. */
import { Type } from './json-schema.js'
import { CIDR_ITEM, Cidr, Nullable, type KeySpec } from './schema.js'

/** The spool section of the config key table. */
export const spoolKeys = {
  spool_root: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a directory path or null',
    description: 'spool directory (a relative path is relative to the config file); `--spool-root` and `$HACHECK_SPOOL_ROOT` win; the spool tools read it too, see [Which spool the tools use](tools.md#which-spool-the-tools-use)'
  },
  allow_remote_spool_changes: {
    schema: Type.Boolean({ default: false }),
    expected: 'true or false',
    description: 'enable POST on the spool route',
    reference: true
  },
  remote_spool_token: {
    schema: Nullable(Type.String({ minLength: 16, pattern: '^[\\x21-\\x7e]+$' })),
    default: null,
    expected: 'a string of at least 16 printable characters without spaces, or null',
    description: 'remote spool changes need `Authorization: Bearer <token>` (401 otherwise)'
  },
  remote_spool_allowed_cidrs: {
    schema: Nullable(Type.Array(Cidr)),
    default: null,
    expected: 'a list of CIDR networks (e.g. 10.0.0.0/8), or null for any client',
    item: CIDR_ITEM,
    description: 'clients allowed to make remote spool changes (403 otherwise)'
  }
} satisfies Record<string, KeySpec>
