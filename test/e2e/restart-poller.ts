/**
 * A client that opens a fresh connection every 20 ms, as a balancer checking often would, and
 * counts what happened: answered, refused (ECONNREFUSED, the cost of a restart without socket
 * activation), or failed otherwise. For an HTTP port it sends `GET <path>`; for an agent port
 * the line `web\n`. Bounded: at most one attempt in flight, and it stops after `maxMs`.
 */
import { connect } from 'node:net'

/** Bound on one reply, milliseconds: far above a start-up on a busy machine (about 1 s). */
const REPLY_BOUND_MS = 20_000

/** What a poller saw. */
export interface PollCounts {
  answered: number
  refused: number
  /** Other failures (reset, closed without a reply, no reply within {@link REPLY_BOUND_MS}), with their messages. */
  failed: string[]
}

/** A running poller. */
export interface Poller {
  counts: () => PollCounts
  /** Stops polling; resolves once the attempt in flight is over. */
  stop: () => Promise<PollCounts>
}

/**
 * Starts polling `127.0.0.1:port`.
 *
 * @param request - bytes sent on each connection (an HTTP request with `connection: close`, or an agent line).
 * @param maxMs - bound on the whole run, milliseconds.
 */
export function startPoller (port: number, request: string, maxMs = 600_000): Poller {
  const counts: PollCounts = { answered: 0, refused: 0, failed: [] }
  const started = Date.now()
  const state = { running: true }
  const attempt = async (): Promise<void> => await new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let reply = ''
    // Generous: a connection waiting in the backlog through a restart on a loaded machine is
    // answered late, not lost; only one never answered counts as failed.
    const timer = setTimeout(() => { socket.destroy(new Error(`no reply in ${REPLY_BOUND_MS / 1000} s`)) }, REPLY_BOUND_MS)
    socket.setEncoding('utf8')
    socket.on('connect', () => { socket.end(request) })
    socket.on('data', (d: string) => { reply += d })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      if (err.code === 'ECONNREFUSED') counts.refused++
      else if (counts.failed.length < 100) counts.failed.push(err.message)
      resolve()
    })
    socket.on('close', (hadError) => {
      clearTimeout(timer)
      if (hadError) return
      if (reply !== '') counts.answered++
      else if (counts.failed.length < 100) counts.failed.push('closed without a reply')
      resolve()
    })
  })
  const loop = (async () => {
    while (state.running && Date.now() - started < maxMs) {
      const next = Date.now() + 20
      await attempt()
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())))
    }
  })()
  return {
    counts: () => ({ ...counts, failed: [...counts.failed] }),
    stop: async () => {
      state.running = false
      await loop
      return { ...counts, failed: [...counts.failed] }
    }
  }
}

/** The HTTP request a poller sends: a spool check on a fresh connection. */
export const HTTP_POLL = 'GET /spool/web/0/ HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n'
/** The agent line a poller sends. */
export const AGENT_POLL = 'web\n'
