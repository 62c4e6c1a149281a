/**
 * The `spool` protocol: the spool alone decides. The health service consults the spool before
 * every checker, so by the time this runs the service is up as far as the spool knows; it
 * answers 200 with an empty body, as the reference does.
 *
 * Proves: no `all`, `<service>` or `<service>:<port>` down file. Does not contact the service.
 */
import { up, type Checker, type CheckOutcome } from './types.js'

/** Always the same answer: shared, since the spool route is the hottest path there is. */
const ANSWER: Promise<CheckOutcome> = Promise.resolve(Object.freeze(up('')))

/** The `spool` protocol (see the file's description). */
export const spool: Checker = {
  check: () => ANSWER,
  pathRequired: false,
  probes: false
}
