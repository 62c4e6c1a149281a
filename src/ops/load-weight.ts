/**
 * (ours) Load weights: agent-check weights that follow pressure stall information
 * (docs/operator-guide.md "Load weights"). A {@link LoadSampler} reads the configured PSI files
 * on a timer (never per request): the host's (`pressure_root`, for `all` and every service
 * without a cgroup of its own) and each `load_weight_cgroups` directory's. For each of these
 * scopes, the highest `some <window>` value among the usable sources is the pressure, and
 *
 *     weight = clamp(round(100 - k x pressure), floor, 100)
 *
 * A new weight is used only when it moves at least `load_weight_hysteresis` points from the
 * one in use, or reaches 100 or the floor (so an idle host gets back to 100, not 97).
 *
 * A source that is missing, unreadable, malformed, too big or not a regular file (a FIFO) is
 * ignored for the weight, never a reason to lower it, and logged once when it becomes so (and
 * once when it is usable again). A scope with no usable source has no load weight: the agent
 * answers from the spool's weights alone.
 */
import type { LoadWeightSettings } from '../config/load-weight.js'
import { pressurePath, readPressureFile, type PressureLine, type PressureRead, type PressureResource } from './pressure.js'

/** The host-wide scope's name, as the spool names the whole host. */
export const HOST_SCOPE = 'all'

/** One resource's last reading in a scope. */
export interface PressureInput {
  resource: PressureResource
  path: string
  /** The file's `some` line, or null when the file cannot be used. */
  some: PressureLine | null
  /** Why the file cannot be used; null when it can. */
  error: string | null
}

/** One scope's state: the host's (`all`) or one service's cgroup. */
export interface ScopeLoad {
  /** `all` for the host, else the service whose cgroup this is. */
  service: string
  kind: 'host' | 'cgroup'
  /** `pressure_root`, or the service's cgroup directory. */
  dir: string
  /** The load weight in use (after hysteresis), percent; null when no source is usable. */
  weight: number | null
  /** What the rule gives for the last reading, before hysteresis; null when no source is usable. */
  computed: number | null
  /** The highest `some <window>` value among the usable sources, percent; null when none is. */
  pressure: number | null
  /** One per configured resource, in `load_weight_sources` order. */
  inputs: readonly PressureInput[]
  /** When it was last read, milliseconds since the epoch; null before the first read. */
  sampledAtMs: number | null
}

/** The rule's parameters (see the file comment). */
export type LoadRule = Pick<LoadWeightSettings, 'factor' | 'floor'>

/** weight = clamp(round(100 - factor x pressure), floor, 100), for a pressure in percent. */
export function loadWeightFor (pressure: number, rule: LoadRule): number {
  return Math.min(100, Math.max(rule.floor, Math.round(100 - rule.factor * pressure)))
}

/**
 * The weight to use after a reading that computed `computed`: `computed` when nothing is in
 * use, when it moved at least `hysteresis` points, or when it is 100 or the floor; else the
 * weight in use.
 */
export function nextWeight (current: number | null, computed: number, rule: Pick<LoadWeightSettings, 'hysteresis' | 'floor'>): number {
  if (current === null || computed === current) return computed
  if (Math.abs(computed - current) >= rule.hysteresis || computed === 100 || computed === rule.floor) return computed
  return current
}

/** Where a sampler reports sources that become unusable or usable again (a pino logger fits). */
export interface LoadLog {
  warn: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
}

/**
 * Scopes read per turn of the event loop in a timer round: 3 files each, 0.1-0.5 ms of
 * synchronous reads a scope (bench/RESULTS.md, "Load weights").
 */
export const SCOPES_PER_TURN = 4

/** Options for {@link LoadSampler}. */
export interface LoadSamplerOptions {
  settings: LoadWeightSettings
  /** Where unusable sources are reported (once each); none by default. */
  logger?: LoadLog | undefined
  /** Clock, milliseconds since the epoch; `Date.now` by default. */
  nowMs?: () => number
  /** Reads one pressure file; {@link readPressureFile} by default (tests may count reads). */
  read?: (path: string) => PressureRead
}

/**
 * Reads pressure on a timer and holds each scope's load weight. State: the scopes (each
 * replaced whole when read, so a reader never sees half a scope), which sources are currently
 * reported unusable, the timer and whether a round is in progress. {@link LoadSampler.stop} clears the timer; the timer is
 * unref'd, so it never holds a process open.
 */
export class LoadSampler {
  readonly settings: LoadWeightSettings
  private readonly logger: LoadLog | undefined
  private readonly nowMs: () => number
  private readonly read: (path: string) => PressureRead
  /** By scope name: `all` first, then each service with a cgroup. */
  private readonly state = new Map<string, ScopeLoad>()
  /** Path → the reason it was reported unusable, while it stays so. */
  private readonly reported = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  /** A timer round is in progress. */
  private sampling = false

  constructor (opts: LoadSamplerOptions) {
    this.settings = opts.settings
    this.logger = opts.logger
    this.nowMs = opts.nowMs ?? Date.now
    this.read = opts.read ?? readPressureFile
    const empty = (service: string, kind: ScopeLoad['kind'], dir: string): ScopeLoad => ({
      service,
      kind,
      dir,
      weight: null,
      computed: null,
      pressure: null,
      sampledAtMs: null,
      inputs: this.settings.sources.map((resource) => ({ resource, path: pressurePath(dir, resource, kind), some: null, error: 'not read yet' }))
    })
    this.state.set(HOST_SCOPE, empty(HOST_SCOPE, 'host', this.settings.pressureRoot))
    for (const [service, dir] of this.settings.cgroups) this.state.set(service, empty(service, 'cgroup', dir))
  }

  /**
   * Reads once now (all scopes at once, so the first answers have weights), then every
   * `intervalMs` in slices (see {@link SCOPES_PER_TURN}). Calling it again does nothing.
   */
  start (): this {
    if (this.timer !== undefined) return this
    this.sample()
    this.timer = setInterval(() => { this.sampleInSlices().catch(() => {}) }, this.settings.intervalMs)
    this.timer.unref()
    return this
  }

  /** Whether the timer runs (between {@link LoadSampler.start} and {@link LoadSampler.stop}). */
  get running (): boolean {
    return this.timer !== undefined
  }

  /** Stops the timer (and a round in progress); the last weights stay readable. */
  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Reads every scope's files once and updates its weight, in one go. Synchronous, never throws. */
  sample (): void {
    const nowMs = this.nowMs()
    for (const name of this.state.keys()) this.sampleScope(name, nowMs)
  }

  /**
   * One timer round: every scope, {@link SCOPES_PER_TURN} at a time with a turn of the event
   * loop between, so a thousand cgroups never hold the loop for long. A round still running when
   * the next tick comes is not doubled: that tick is skipped.
   */
  private async sampleInSlices (): Promise<void> {
    if (this.sampling) return
    this.sampling = true
    try {
      const nowMs = this.nowMs()
      let done = 0
      for (const name of [...this.state.keys()]) {
        if (this.timer === undefined) return
        this.sampleScope(name, nowMs)
        if (++done % SCOPES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve))
      }
    } finally {
      this.sampling = false
    }
  }

  private sampleScope (name: string, nowMs: number): void {
    const prev = this.state.get(name)
    if (prev === undefined) return
    const inputs = prev.inputs.map((input) => this.readInput(name, input))
    let pressure: number | null = null
    for (const input of inputs) {
      const value = input.some?.[this.settings.window]
      if (value !== undefined && (pressure === null || value > pressure)) pressure = value
    }
    const computed = pressure === null ? null : loadWeightFor(pressure, this.settings)
    const weight = computed === null ? null : nextWeight(prev.weight, computed, this.settings)
    this.state.set(name, { ...prev, weight, computed, pressure, inputs, sampledAtMs: nowMs })
  }

  private readInput (scope: string, input: PressureInput): PressureInput {
    const got = this.read(input.path)
    const error = got.ok ? null : got.reason
    const was = this.reported.get(input.path)
    if (error !== null && error !== was) {
      this.reported.set(input.path, error)
      this.logger?.warn({ scope, resource: input.resource, path: input.path, reason: error }, 'pressure source unusable: ignored for the load weight')
    } else if (error === null && was !== undefined) {
      this.reported.delete(input.path)
      this.logger?.info({ scope, resource: input.resource, path: input.path }, 'pressure source usable again')
    }
    return { ...input, some: got.ok ? got.pressure.some : null, error }
  }

  /** The scope whose pressure applies to a service: its cgroup's, else the host's. */
  scopeOf (service: string): ScopeLoad {
    return this.state.get(service) ?? this.state.get(HOST_SCOPE) as ScopeLoad
  }

  /**
   * A service's load weight, percent (`all` or a service without a cgroup: the host's); null
   * when no source of its scope is usable (the weight then comes from the spool alone).
   */
  weight (service: string): number | null {
    return this.scopeOf(service).weight
  }

  /** Every scope: the host's (`all`) first, then each service with a cgroup, in config order. */
  scopes (): ScopeLoad[] {
    return [...this.state.values()]
  }
}
