/**
 * How far V8 lets the heap grow between full garbage collections, for a server whose state is
 * bounded by design (`cache_max_bytes`, the service and transition logs, per-client limits).
 *
 * By default V8 lets the old generation grow to several times what survived the last full
 * collection before it collects again. A client that floods hacheck with checks of distinct
 * URLs turns the result cache over quickly: every evicted result is old-generation garbage, and
 * with the default growth a process holding 32 MiB of cache reached 300-370 MB of resident
 * memory (measured with `test/e2e/abuse.test.ts`). Capped at 20 % over the live heap it stays
 * under 200 MB, at the cost of more frequent (mostly concurrent) major collections during such
 * a flood and none more in steady state.
 *
 * The flag is read by V8 at each collection, so setting it at start-up takes effect at once.
 * A `--heap-growing-percent` given by the operator (`NODE_OPTIONS`, `node` flags) wins.
 */
import { setFlagsFromString } from 'node:v8'

/** Heap growth allowed over the live heap after a full collection, percent. */
export const HEAP_GROWING_PERCENT = 20

/** Applies {@link HEAP_GROWING_PERCENT} unless the operator set the flag; returns whether it did. */
export function boundHeapGrowth (percent = HEAP_GROWING_PERCENT): boolean {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => /heap[-_]growing[-_]percent/.test(arg))
  if (given) return false
  setFlagsFromString(`--heap-growing-percent=${percent}`)
  return true
}
