/**
 * The `spool` protocol: the spool alone decides. The health service consults the spool before
 * every checker, so by the time this runs the service is up as far as the spool knows; it
 * answers 200 with an empty body, as the reference does.
 *
 * Proves: no `all`, `<service>` or `<service>:<port>` down file. Does not contact the service.
 */
import { up, type Checker } from './types.js'

export const spool: Checker = {
  check: async () => up(''),
  pathRequired: false,
  probes: false
}
