/**
 * The `smtp` protocol: read the banner, send `QUIT`, expect `221`.
 *
 * Proves: the MTA accepts a connection, greets with 220 and speaks SMTP well enough to close
 * the session. Does not prove it accepts mail (no EHLO, no MAIL FROM), nor TLS.
 */
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { openSocket } from './socket.js'
import { describeError, errorCode, failureStatus, seconds, type Phase } from './status.js'
import { down, up, type Checker, type CheckOutcome } from './types.js'

/** Longest reply we buffer before calling it garbage. */
const MAX_REPLY_BYTES = 16 * 1024

/** One complete SMTP reply taken off the front of `buffer`; `code` null for a malformed line. */
interface Reply {
  code: number | null
  text: string
  rest: string
}

/** Takes the first complete reply (RFC 5321 4.2: `NNN-...` continuation lines, `NNN ...` last). */
export function takeReply (buffer: string): Reply | null {
  let start = 0
  for (;;) {
    const eol = buffer.indexOf('\n', start)
    if (eol === -1) return null
    const line = buffer.slice(start, eol).replace(/\r$/, '')
    const match = /^([0-9]{3})([ -]|$)/.exec(line)
    if (match === null) return { code: null, text: line, rest: buffer.slice(eol + 1) }
    if (match[2] !== '-') {
      return { code: Number(match[1]), text: buffer.slice(0, eol).replace(/\r$/, ''), rest: buffer.slice(eol + 1) }
    }
    start = eol + 1
  }
}

async function converse (socket: Socket, started: number): Promise<CheckOutcome> {
  let buffer = ''
  let quitSent = false
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    buffer += chunk.toString('latin1')
    for (let reply = takeReply(buffer); reply !== null; reply = takeReply(buffer)) {
      buffer = reply.rest
      if (reply.code === null) return down(`Unexpected reply ${JSON.stringify(reply.text)}`, 'L7RSP')
      if (!quitSent) {
        if (reply.code !== 220) return down(`Unexpected banner ${reply.text}`, 'L7STS')
        socket.write('QUIT\r\n')
        quitSent = true
      } else {
        if (reply.code !== 221) return down(`Unexpected reply to QUIT: ${reply.text}`, 'L7STS')
        return up(`Connected in ${seconds(performance.now() - started)}s`)
      }
    }
    if (buffer.length > MAX_REPLY_BYTES) return down('Reply too long', 'L7RSP')
  }
  return down('Peer unexpectedly closed connection', 'L7RSP')
}

/** The `smtp` protocol (see the file's description). */
export const smtp: Checker = {
  pathRequired: false,
  probes: true,
  check: async (target, ctx) => {
    const started = performance.now()
    let phase: Phase = 'connect'
    let socket: Socket | undefined
    try {
      socket = await openSocket(target.address, target.port, ctx.signal)
      phase = 'protocol'
      return await converse(socket, started)
    } catch (err) {
      const took = seconds(performance.now() - started)
      if (ctx.signal.aborted) return down(`Timed out after ${took}s`, failureStatus(phase, true))
      return down(`Unexpected error ${describeError(err)} after ${took}s`, failureStatus(phase, false, errorCode(err)))
    } finally {
      socket?.destroy()
    }
  }
}
