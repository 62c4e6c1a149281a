/**
 * `-n NUM` (docs/tools.md "Server command"): NUM identical worker processes (node:cluster) sharing the
 * listening ports. The primary only supervises:
 *
 * - start-up: forks the workers and waits until each one listens; if one fails first (port in
 *   use, ...), the others are stopped and the primary reports that worker's message once and
 *   exits with its code (the workers print nothing themselves, so `-n 4` is not four lines);
 * - a worker that dies later is replaced, after a back-off that doubles with each worker that
 *   dies young (see {@link restartDelay}), so a crash loop does not spin;
 * - SIGTERM, SIGINT, SIGQUIT: each worker stops gracefully (as a single process does), then
 *   the primary exits 0; SIGHUP is passed on to the workers (log reopen);
 * - `/metrics`: a worker asks the primary, which aggregates every worker's registry with
 *   prom-client's AggregatorRegistry, so a scrape sees the whole host whichever worker answers.
 *
 * Imports no Fastify.
 */
import cluster, { type Worker } from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import { AggregatorRegistry, type Registry } from 'prom-client'
import type { HacheckLogger } from './logger.js'

/** Messages between primary and workers; `type` starts with `hacheck:`. */
type Message =
  | { type: 'hacheck:ready', ports: number[] }
  | { type: 'hacheck:failed', message: string, code: number }
  | { type: 'hacheck:metrics-req', id: number }
  | { type: 'hacheck:metrics-res', id: number, text?: string, error?: string }

function isMessage (value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' &&
    (value as { type: string }).type.startsWith('hacheck:')
}

/** Back-off settings for replacing workers, milliseconds. */
export interface RestartPolicy {
  /** Delay after the first young death. */
  baseMs: number
  /** Longest delay. */
  maxMs: number
  /** A worker that lived this long died "old": the back-off starts over. */
  stableMs: number
}

/** The environment variable carrying a worker's slot, 1..N (absent in a single process). */
export const WORKER_SLOT_ENV = 'HACHECK_WORKER_SLOT'

/** True in the process that does once-per-host work: a single process, or worker slot 1. */
export function isFirstWorker (env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const slot = env[WORKER_SLOT_ENV]
  return slot === undefined || slot === '1'
}

/** The defaults: 0.5 s doubling up to 30 s; a worker that ran 10 s resets it. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = { baseMs: 500, maxMs: 30000, stableMs: 10000 }

/**
 * How long to wait before replacing a worker, after `youngDeaths` consecutive workers died
 * before `stableMs`: 0 for none (a worker that ran a while is replaced at once), then
 * `baseMs`, doubling, at most `maxMs`.
 */
export function restartDelay (youngDeaths: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): number {
  if (youngDeaths <= 0) return 0
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(youngDeaths - 1, 30))
}

/** Options for {@link runPrimary}. */
export interface PrimaryOptions {
  numProcs: number
  log: HacheckLogger
  /** Bound on the graceful stop of the workers, milliseconds (`shutdown_timeout`). */
  graceMs: number
  /** Logged once every worker listens: version, ports, spool root, config file. */
  startup: Record<string, unknown>
  policy?: RestartPolicy
}

/** A worker that could not start: its one-line message and the exit code it asked for. */
export interface StartFailure {
  code: number
  message: string
}

/**
 * Runs the primary of `-n`. Resolves `undefined` once every worker listens (the primary then
 * keeps running), or with the first failure when a worker could not start (the caller prints
 * it and exits with its code).
 */
export async function runPrimary (opts: PrimaryOptions): Promise<StartFailure | undefined> {
  const { log } = opts
  const policy = opts.policy ?? DEFAULT_RESTART_POLICY
  const aggregator = new AggregatorRegistry()
  const started = new Map<Worker, number>()
  const timers = new Set<NodeJS.Timeout>()
  let stopping = false
  let youngDeaths = 0

  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage(message) || message.type !== 'hacheck:metrics-req') return
    const reply = (fields: { text?: string, error?: string }): void => {
      if (worker.isConnected()) worker.send({ type: 'hacheck:metrics-res', id: message.id, ...fields })
    }
    aggregator.clusterMetrics().then((text) => { reply({ text }) }, (err: Error) => { reply({ error: err.message }) })
  })

  // Each worker's slot (1..N) in HACHECK_WORKER_SLOT; a replacement takes its predecessor's,
  // so work done by one worker only (publishing fleet status) survives a restart.
  const slots = new Map<Worker, number>()
  const fork = async (slot: number): Promise<{ worker: Worker, failure?: StartFailure }> => {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) })
    slots.set(worker, slot)
    started.set(worker, Date.now())
    return await new Promise((resolve) => {
      let reported: StartFailure | undefined
      const onMessage = (message: unknown): void => {
        if (!isMessage(message)) return
        if (message.type === 'hacheck:failed') reported = { code: message.code, message: message.message }
        if (message.type !== 'hacheck:ready') return
        worker.off('message', onMessage)
        worker.off('exit', onEarlyExit)
        resolve({ worker })
      }
      const onEarlyExit = (code: number | null, signal: string | null): void => {
        resolve({
          worker,
          failure: reported ?? {
            code: code === 0 || code === null ? 1 : code,
            message: `worker ${worker.process.pid ?? '?'} exited (${signal ?? `code ${code ?? '?'}`}) before it listened`
          }
        })
      }
      worker.on('message', onMessage)
      worker.once('exit', onEarlyExit)
    })
  }

  const first = await Promise.all(Array.from({ length: opts.numProcs }, async (_, i) => await fork(i + 1)))
  const failed = first.find((r) => r.failure !== undefined)
  if (failed?.failure !== undefined) {
    stopping = true
    log.logger.debug({ worker_pid: failed.worker.process.pid, code: failed.failure.code }, 'a worker failed to start; stopping the others')
    await Promise.all(first.filter((r) => r.failure === undefined).map(async (r) => { await stopWorker(r.worker) }))
    return failed.failure
  }
  log.ops.info({ ...opts.startup, workers: first.map((r) => r.worker.process.pid) }, 'hacheck started')

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    const lived = Date.now() - (started.get(worker) ?? 0)
    started.delete(worker)
    const slot = slots.get(worker) ?? 1
    slots.delete(worker)
    youngDeaths = lived < policy.stableMs ? youngDeaths + 1 : 0
    const delay = restartDelay(youngDeaths, policy)
    log.logger.error({ worker_pid: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: delay }, 'worker died; replacing it')
    const timer = setTimeout(() => {
      timers.delete(timer)
      if (stopping) return
      fork(slot).then(({ worker: fresh, failure }) => {
        if (failure === undefined) log.ops.info({ worker_pid: fresh.process.pid }, 'worker started')
        else log.logger.error({ worker_pid: fresh.process.pid, code: failure.code }, `a replacement worker could not start: ${failure.message}`)
      }, () => {})
    }, delay)
    timers.add(timer)
  })

  closeWithGrace({
    delay: opts.graceMs + 2000,
    skip: ['SIGHUP'],
    logger: { error: (message: unknown) => { log.logger.error({ detail: String(message) }, 'while stopping') } },
    onTimeout: () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL')
      log.logger.error('workers did not stop within shutdown_timeout; killed')
      log.flush()
    }
  }, async ({ signal, err }) => {
    stopping = true
    for (const timer of timers) clearTimeout(timer)
    if (err !== undefined) log.logger.fatal({ err }, 'uncaught error in the primary: stopping')
    log.ops.info({ signal }, 'stopping workers')
    await Promise.all(Object.values(cluster.workers ?? {}).map(async (w) => { if (w !== undefined) await stopWorker(w) }))
    log.ops.info('stopped')
    log.close()
    log.flush()
  })
  process.on('SIGHUP', () => {
    log.reopen()
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP')
  })
  return undefined
}

/** Asks a worker to stop gracefully (SIGTERM) and resolves when it has exited. */
async function stopWorker (worker: Worker): Promise<void> {
  if (worker.isDead()) return
  const exited = new Promise<void>((resolve) => worker.once('exit', () => { resolve() }))
  worker.process.kill('SIGTERM')
  await exited
}

/** In a worker: tells the primary this worker listens. */
export function notifyReady (ports: number[]): void {
  const message: Message = { type: 'hacheck:ready', ports }
  process.send?.(message)
}

/**
 * In a worker: tells the primary why this worker could not start, for the primary to print
 * once. Resolves once the message is handed to the IPC channel (exit after that).
 */
export async function notifyFailed (failure: StartFailure): Promise<void> {
  const message: Message = { type: 'hacheck:failed', ...failure }
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
    if (!isMessage(message) || message.type !== 'hacheck:metrics-res') return
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
    const request: Message = { type: 'hacheck:metrics-req', id }
    process.send?.(request)
  })
}

/** In a worker: makes `registry` (the runtime's) the one the primary aggregates. */
export function shareRegistry (registry: Registry): void {
  AggregatorRegistry.setRegistries([registry])
}
