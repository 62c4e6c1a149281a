/**
 * The checker registry: the one place a protocol is added (one file plus one line here).
 * Routes and the health service look protocols up here and know none by name.
 */
import { spool } from './spool.js'
import type { Checker } from './types.js'

export const checkers = {
  spool
} as const satisfies Record<string, Checker>

/** A protocol name hacheck serves, e.g. `spool`, `http`. */
export type Protocol = keyof typeof checkers

/** True when `name` is a registered protocol. */
export function isProtocol (name: string): name is Protocol {
  return Object.hasOwn(checkers, name)
}

export type { Checker, CheckContext, CheckFn, CheckOutcome, CheckResult, CheckTarget } from './types.js'
