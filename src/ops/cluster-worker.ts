/**
 * The worker's side of `-n` (see `cluster.ts` for the primary): the messages both sides
 * exchange over the IPC channel, the worker's slot, and `/metrics` fetched from the primary.
 *
 * Imports no Fastify.
 */
import { AggregatorRegistry, type Registry } from 'prom-client'

/** (ours) The env variable carrying a worker's slot number, 1..N, kept when the worker is replaced. */
export const WORKER_SLOT_ENV = 'HACHECK_WORKER_SLOT'

/** Messages between primary and workers; `type` starts with `hacheck:`. */
export type ClusterMessage =
  | { type: 'hacheck:ready', ports: number[] }
  | { type: 'hacheck:failed', message: string, code: number }
  | { type: 'hacheck:metrics-req', id: number }
  | { type: 'hacheck:metrics-res', id: number, text?: string, error?: string }

/** True for a message of ours (other IPC traffic, such as prom-client's, is left alone). */
export function isClusterMessage (value: unknown): value is ClusterMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' &&
    (value as { type: string }).type.startsWith('hacheck:')
}

/** A worker that could not start: its one-line message and the exit code it asked for. */
export interface StartFailure {
  code: number
  message: string
}

/**
 * In a worker: its slot, 1..N (`-n N`), from {@link WORKER_SLOT_ENV}; undefined outside a
 * worker or for a value that is not a slot.
 */
export function workerSlot (env: Record<string, string | undefined> = process.env): number | undefined {
  const text = env[WORKER_SLOT_ENV]
  return text !== undefined && /^[1-9][0-9]{0,3}$/.test(text) ? Number(text) : undefined
}

/** In a worker: tells the primary this worker listens. */
export function notifyReady (ports: number[]): void {
  const message: ClusterMessage = { type: 'hacheck:ready', ports }
  process.send?.(message)
}

/**
 * In a worker: tells the primary why this worker could not start, for the primary to print
 * once. Resolves once the message is handed to the IPC channel (exit after that).
 */
export async function notifyFailed (failure: StartFailure): Promise<void> {
  const message: ClusterMessage = { type: 'hacheck:failed', ...failure }
  await new Promise<void>((resolve) => {
    if (process.send === undefined) { resolve(); return }
    process.send(message, undefined, {}, () => { resolve() })
  })
}

/**
 * In a worker: returns what `/metrics` should answer, the aggregation over all workers fetched
 * from the primary. Call it early: it installs prom-client's listener that answers the
 * primary's requests (with prom-client's empty global registry until {@link shareRegistry}).
 *
 * @param timeoutMs - bound on one round trip; the scrape fails (500) beyond it.
 */
export function workerMetrics (timeoutMs = 6000): () => Promise<string> {
  // Constructing one installs the listener (prom-client keeps it module-wide, once).
  // eslint-disable-next-line no-new
  new AggregatorRegistry()
  const pending = new Map<number, { resolve: (text: string) => void, reject: (err: Error) => void }>()
  let next = 0
  process.on('message', (message: unknown) => {
    if (!isClusterMessage(message) || message.type !== 'hacheck:metrics-res') return
    const waiter = pending.get(message.id)
    pending.delete(message.id)
    if (message.error !== undefined || message.text === undefined) waiter?.reject(new Error(`cluster metrics: ${message.error ?? 'no text'}`))
    else waiter?.resolve(message.text)
  })
  return async () => await new Promise<string>((resolve, reject) => {
    const id = next++
    const timer = setTimeout(() => { pending.delete(id); reject(new Error(`cluster metrics: no answer from the primary in ${timeoutMs}ms`)) }, timeoutMs)
    pending.set(id, {
      resolve: (text) => { clearTimeout(timer); resolve(text) },
      reject: (err) => { clearTimeout(timer); reject(err) }
    })
    const request: ClusterMessage = { type: 'hacheck:metrics-req', id }
    process.send?.(request)
  })
}

/** In a worker: makes `registry` (the runtime's) the one the primary aggregates. */
export function shareRegistry (registry: Registry): void {
  AggregatorRegistry.setRegistries([registry])
}
