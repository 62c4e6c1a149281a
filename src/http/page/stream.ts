/**
 * (ours) The status page's live feed: server-sent events carrying the page's JSON snapshot.
 *
 * One timer for all open pages: while at least one is connected, the snapshot is built once per
 * `intervalMs` and the same text written to every stream; with none, nothing runs. Building is
 * single-flight (a slow spool read never stacks builds), and a snapshot asked for by a one-shot
 * request within `intervalMs` of the last is reused, so neither many pages nor a reloading one
 * multiply the work.
 *
 * Bounded: at most `maxClients` streams (more are refused, the caller answers 503), and a page
 * that stops reading is dropped once `maxBufferedBytes` wait for it, so a stalled client holds
 * no growing buffer. `close()` ends every stream, so a stopping server is not held open.
 *
 * Imports no Fastify: it writes to Node's `ServerResponse`.
 */
import type { ServerResponse } from 'node:http'

/** Options for {@link PageStream}. */
export interface PageStreamOptions {
  /** Builds the snapshot's JSON text (one line: JSON.stringify escapes newlines). */
  build: () => Promise<string>
  /** How often open pages get a fresh snapshot, ms; default 1000. */
  intervalMs?: number
  /** Most streams at once; default 32. */
  maxClients?: number
  /** A stream with more than this many bytes unsent is dropped; default 1 MiB. */
  maxBufferedBytes?: number
  /** Reports a failed build (the pages keep their last snapshot). */
  onError?: (err: unknown) => void
}

/** Fans one snapshot out to every open page. One per app. */
export class PageStream {
  private readonly build: () => Promise<string>
  private readonly intervalMs: number
  private readonly maxClients: number
  private readonly maxBufferedBytes: number
  private readonly onError: (err: unknown) => void
  private readonly clients = new Set<ServerResponse>()
  private timer: NodeJS.Timeout | undefined
  private building: Promise<string> | undefined
  private last: { text: string, at: number } | undefined
  private closed = false

  constructor (opts: PageStreamOptions) {
    this.build = opts.build
    this.intervalMs = opts.intervalMs ?? 1000
    this.maxClients = opts.maxClients ?? 32
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 1024 * 1024
    this.onError = opts.onError ?? (() => {})
  }

  /** Streams open now. */
  get size (): number {
    return this.clients.size
  }

  /** Whether a new stream would be refused. */
  get full (): boolean {
    return this.closed || this.clients.size >= this.maxClients
  }

  /** A snapshot no older than `intervalMs` (built now if needed; shared with a build in flight). */
  async snapshot (): Promise<string> {
    if (this.last !== undefined && Date.now() - this.last.at < this.intervalMs) return this.last.text
    return await this.fresh()
  }

  private async fresh (): Promise<string> {
    this.building ??= this.build().then((text) => {
      this.last = { text, at: Date.now() }
      return text
    }).finally(() => { this.building = undefined })
    return await this.building
  }

  /**
   * Adds a response whose head has been written (`text/event-stream`): it gets the current
   * snapshot at once, then one per interval, until the client goes or {@link close}.
   *
   * @returns false (and touches nothing) when {@link full}.
   */
  add (res: ServerResponse): boolean {
    if (this.full) return false
    this.clients.add(res)
    res.once('close', () => { this.remove(res) })
    // Reconnect after a second when the stream breaks (EventSource's `retry`).
    res.write('retry: 1000\n\n')
    this.snapshot().then((text) => { this.send(res, text) }, this.onError)
    this.timer ??= setInterval(() => { this.tick() }, this.intervalMs)
    this.timer.unref()
    return true
  }

  private remove (res: ServerResponse): void {
    this.clients.delete(res)
    if (this.clients.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  private tick (): void {
    // A build still running from the last tick is not doubled; this tick waits for it.
    this.fresh().then((text) => { for (const res of this.clients) this.send(res, text) }, this.onError)
  }

  private send (res: ServerResponse, text: string): void {
    if (!this.clients.has(res) || res.writableEnded) return
    if (res.writableLength > this.maxBufferedBytes) {
      // The page stopped reading: drop it rather than buffer without bound.
      res.destroy()
      this.remove(res)
      return
    }
    res.write(`data: ${text}\n\n`)
  }

  /** Ends every stream and refuses new ones (server stopping). */
  close (): void {
    this.closed = true
    for (const res of this.clients) res.end()
    this.clients.clear()
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
