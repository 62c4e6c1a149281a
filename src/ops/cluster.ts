/**
 * `-n NUM` (docs/tools.md "Server command"): NUM identical worker processes (node:cluster) sharing the
 * listening ports, which the primary holds (bound once and shared, `SCHED_NONE`, or the
 * sockets systemd passed) while workers come and go. The primary only supervises; see
 * {@link Primary}. The worker's side is `cluster-worker.ts`.
 *
 * Imports no Fastify.
 */
import cluster, { type Worker } from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import { AggregatorRegistry } from 'prom-client'
import { isClusterMessage, WORKER_SLOT_ENV, type StartFailure } from './cluster-worker.js'
import type { HacheckLogger } from './logger.js'

/** Back-off settings for replacing workers, milliseconds. */
export interface RestartPolicy {
  /** Delay after the first young death. */
  baseMs: number
  /** Longest delay. */
  maxMs: number
  /** A worker that lived this long died "old": the back-off starts over. */
  stableMs: number
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

/** Bound on a worker's start, from fork to listening, milliseconds (about 1 s on a busy machine). */
const WORKER_START_MS = 60_000

/** Options for {@link Primary}. */
export interface PrimaryOptions {
  numProcs: number
  log: HacheckLogger
  /** Bound on the graceful stop of the workers, milliseconds (`shutdown_timeout`). */
  graceMs: number
  /** Logged once every worker listens: version, ports, spool root, config file. */
  startup: Record<string, unknown>
  /**
   * Re-reads and validates the config file as start-up does, for a reload: resolves with the
   * one-line error, or undefined when the file is valid (the workers then load it themselves).
   */
  checkConfig: () => Promise<string | undefined>
  /** Extra environment for every worker (the passed sockets, ops/socket-activation.ts). */
  workerEnv?: Record<string, string>
  policy?: RestartPolicy
}

interface WorkerState { slot: number, startedMs: number, ready: boolean, retiring: boolean }

/**
 * The primary of `-n`. Its signal handlers are installed before the first fork, so every
 * signal it documents is handled as soon as a worker can answer:
 *
 * - start-up ({@link start}): forks one worker per slot (1..N, in `HACHECK_WORKER_SLOT`) and
 *   waits until each listens; if one fails first (port in use, ...), the others are stopped
 *   and the first failure is returned (the workers print nothing themselves, so `-n 4` is not
 *   four lines);
 * - a worker that dies later is replaced in its slot, after a back-off that doubles with each
 *   worker that dies young (see {@link restartDelay}), so a crash loop does not spin;
 * - SIGUSR2 ({@link reload}): the config file is validated; invalid, one error line and the
 *   workers keep serving; valid, each slot in turn gets a new worker, which must listen
 *   before the old one stops gracefully (the sockets stay with the primary throughout);
 * - SIGTERM, SIGINT, SIGQUIT: each worker stops gracefully (as a single process does), then
 *   the primary exits 0; SIGHUP reopens the log and is passed on to the workers;
 * - `/metrics`: a worker asks the primary, which aggregates every worker's registry with
 *   prom-client's AggregatorRegistry, so a scrape sees the whole host whichever worker answers.
 */
export class Primary {
  readonly #opts: PrimaryOptions
  readonly #policy: RestartPolicy
  readonly #aggregator = new AggregatorRegistry()
  readonly #workers = new Map<Worker, WorkerState>()
  /** The serving worker of each slot. */
  readonly #slots = new Map<number, Worker>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle'
  #youngDeaths = 0
  #reloading: Promise<void> | undefined
  #reloadAgain = false
  #graceHandle: { uninstall: () => void } | undefined

  constructor (opts: PrimaryOptions) {
    this.#opts = opts
    this.#policy = opts.policy ?? DEFAULT_RESTART_POLICY
  }

  /**
   * Installs the signal handlers, forks the workers and waits until each listens.
   *
   * @returns undefined once every worker listens (the primary keeps running), or the first
   *   failure when a worker could not start (the caller prints it and exits with its code).
   */
  async start (): Promise<StartFailure | undefined> {
    this.#installHandlers()
    // Each worker accepts from the shared socket itself (the kernel spreads connections). With
    // node:cluster's round robin the primary accepts and hands each connection over IPC: one
    // handed to a worker as it exits (a reload, a crash) hangs unanswered.
    cluster.schedulingPolicy = cluster.SCHED_NONE
    this.#state = 'running'
    const first = await Promise.all(Array.from({ length: this.#opts.numProcs }, async (_, i) => await this.#fork(i + 1)))
    if (this.#state !== 'running') return undefined // a signal arrived meanwhile: that stop is under way
    const failed = first.find((r) => r.failure !== undefined)
    if (failed?.failure !== undefined) {
      this.#opts.log.logger.debug({ worker_pid: failed.worker.process.pid, code: failed.failure.code }, 'a worker failed to start; stopping the others')
      await this.stop()
      return failed.failure
    }
    this.#opts.log.ops.info({ ...this.#opts.startup, workers: first.map((r) => r.worker.process.pid) }, 'hacheck started')
    return undefined
  }

  /**
   * Reloads (SIGUSR2): validates the config file, then replaces the workers one slot at a time,
   * each new one listening before the old one stops. A reload asked for while one runs is
   * done once more after it. Never rejects.
   */
  async reload (): Promise<void> {
    if (this.#state !== 'running') return
    if (this.#reloading !== undefined) {
      this.#reloadAgain = true
      await this.#reloading
      return
    }
    this.#reloading = (async () => {
      do {
        this.#reloadAgain = false
        await this.#reloadOnce()
      } while (this.#reloadAgain && this.#state === 'running')
    })().catch((err: unknown) => { this.#opts.log.logger.error({ err }, 'reload failed') })
      .finally(() => { this.#reloading = undefined })
    await this.#reloading
  }

  /** Stops every worker gracefully, cancels pending replacements and removes the handlers. */
  async stop (): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopping'
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    await Promise.all([...this.#workers.keys()].map(stopWorker))
    this.#state = 'stopped'
    this.#uninstallHandlers()
  }

  async #reloadOnce (): Promise<void> {
    const { log } = this.#opts
    const error = await this.#opts.checkConfig()
    if (error !== undefined) {
      log.logger.error(`reload refused, still serving with the previous config: ${error}`)
      return
    }
    log.ops.info({ workers: this.#opts.numProcs }, 'reloading: replacing the workers one at a time')
    for (let slot = 1; slot <= this.#opts.numProcs; slot++) {
      if (this.#state !== 'running') return
      const old = this.#slots.get(slot)
      const { worker, failure } = await this.#fork(slot)
      if (failure !== undefined) {
        log.logger.error({ slot, code: failure.code }, `reload stopped, the other workers keep serving: a new worker could not start: ${failure.message}`)
        return
      }
      if (old !== undefined && old !== worker) {
        const state = this.#workers.get(old)
        if (state !== undefined) state.retiring = true
        await stopWorker(old)
      }
    }
    log.ops.info({ workers: [...this.#slots.values()].map((w) => w.process.pid) }, 'reloaded')
  }

  /** Forks a worker for `slot`; resolves once it listens (it then serves the slot) or has failed. */
  async #fork (slot: number): Promise<{ worker: Worker, failure?: StartFailure }> {
    const worker = cluster.fork({ ...this.#opts.workerEnv, [WORKER_SLOT_ENV]: String(slot) })
    const state: WorkerState = { slot, startedMs: Date.now(), ready: false, retiring: false }
    this.#workers.set(worker, state)
    return await new Promise((resolve) => {
      let reported: StartFailure | undefined
      // A worker that neither listens nor exits must not hold a start-up or a reload forever.
      const timer = setTimeout(() => {
        reported ??= { code: 1, message: `worker ${worker.process.pid ?? '?'} did not listen within ${WORKER_START_MS / 1000} s` }
        worker.process.kill('SIGKILL')
      }, WORKER_START_MS)
      const onMessage = (message: unknown): void => {
        if (!isClusterMessage(message)) return
        if (message.type === 'hacheck:failed') reported = { code: message.code, message: message.message }
        if (message.type !== 'hacheck:ready') return
        clearTimeout(timer)
        worker.off('message', onMessage)
        worker.off('exit', onEarlyExit)
        state.ready = true
        this.#slots.set(slot, worker)
        resolve({ worker })
      }
      const onEarlyExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer)
        worker.off('message', onMessage)
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

  /** A worker exited: one that served its slot and was not retired is replaced (with back-off). */
  readonly #onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const state = this.#workers.get(worker)
    this.#workers.delete(worker)
    if (state === undefined || !state.ready || state.retiring || this.#state !== 'running') return
    if (this.#slots.get(state.slot) !== worker) return
    const lived = Date.now() - state.startedMs
    this.#youngDeaths = lived < this.#policy.stableMs ? this.#youngDeaths + 1 : 0
    const delay = restartDelay(this.#youngDeaths, this.#policy)
    const { log } = this.#opts
    log.logger.error({ worker_pid: worker.process.pid, slot: state.slot, code, signal, lived_ms: lived, restart_in_ms: delay }, 'worker died; replacing it')
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      // A reload may have filled the slot meanwhile.
      if (this.#state !== 'running' || this.#slots.get(state.slot) !== worker) return
      this.#fork(state.slot).then(({ worker: fresh, failure }) => {
        if (failure === undefined) log.ops.info({ worker_pid: fresh.process.pid, slot: state.slot }, 'worker started')
        else log.logger.error({ worker_pid: fresh.process.pid, slot: state.slot, code: failure.code }, `a replacement worker could not start: ${failure.message}`)
      }, () => {})
    }, delay)
    this.#timers.add(timer)
  }

  readonly #onMessage = (worker: Worker, message: unknown): void => {
    if (!isClusterMessage(message) || message.type !== 'hacheck:metrics-req') return
    const reply = (fields: { text?: string, error?: string }): void => {
      if (worker.isConnected()) worker.send({ type: 'hacheck:metrics-res', id: message.id, ...fields })
    }
    this.#aggregator.clusterMetrics().then((text) => { reply({ text }) }, (err: Error) => { reply({ error: err.message }) })
  }

  readonly #onHup = (): void => {
    if (this.#opts.log.reopen()) this.#opts.log.ops.info('log file reopened (SIGHUP)')
    for (const [worker, state] of this.#workers) if (state.ready) worker.process.kill('SIGHUP')
  }

  readonly #onUsr2 = (): void => { this.reload().catch(() => {}) }

  #installHandlers (): void {
    const { log } = this.#opts
    cluster.on('message', this.#onMessage)
    cluster.on('exit', this.#onExit)
    process.on('SIGHUP', this.#onHup)
    process.on('SIGUSR2', this.#onUsr2)
    this.#graceHandle = closeWithGrace({
      delay: this.#opts.graceMs + 2000,
      skip: ['SIGHUP', 'SIGUSR2'],
      logger: { error: (message: unknown) => { log.logger.error({ detail: String(message) }, 'while stopping') } },
      onTimeout: () => {
        for (const worker of this.#workers.keys()) worker.process.kill('SIGKILL')
        log.logger.error('workers did not stop within shutdown_timeout; killed')
        log.flush()
      }
    }, async ({ signal, err }) => {
      if (err !== undefined) log.logger.fatal({ err }, 'uncaught error in the primary: stopping')
      log.ops.info({ signal }, 'stopping workers')
      await this.stop()
      log.ops.info('stopped')
      log.close()
      log.flush()
    })
  }

  #uninstallHandlers (): void {
    cluster.off('message', this.#onMessage)
    cluster.off('exit', this.#onExit)
    process.off('SIGHUP', this.#onHup)
    process.off('SIGUSR2', this.#onUsr2)
    this.#graceHandle?.uninstall()
  }
}

/** Asks a worker to stop gracefully (SIGTERM) and resolves when it has exited. */
async function stopWorker (worker: Worker): Promise<void> {
  if (worker.isDead()) return
  const exited = new Promise<void>((resolve) => worker.once('exit', () => { resolve() }))
  worker.process.kill('SIGTERM')
  await exited
}
