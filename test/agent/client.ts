/**
 * A minimal agent-check client for tests: connects like HAProxy, sends `send` (if any) and
 * returns everything the server wrote before it closed.
 */
import { connect } from 'node:net'
import { HANG_MS } from '../helper.js'

/** Options for {@link askAgent}. */
export interface AskOptions {
  /** Half-close after sending (as `nc -N` does). */
  end?: boolean
  /** Give up after this many ms (default {@link HANG_MS}: a bound for a hang, not a timing). */
  timeoutMs?: number
  /** Local address to connect from (e.g. 127.0.0.2, to be another client on loopback). */
  from?: string
}

export async function askAgent (port: number, send?: string | Buffer, opts: AskOptions = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true, ...(opts.from === undefined ? {} : { localAddress: opts.from }) })
    let out = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`agent did not close within ${opts.timeoutMs ?? HANG_MS} ms; got ${JSON.stringify(out)}`)) }, opts.timeoutMs ?? HANG_MS)
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => { out += d })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('end', () => { clearTimeout(timer); socket.end(); resolve(out) })
    socket.on('connect', () => {
      if (send !== undefined) socket.write(send)
      if (opts.end === true) socket.end()
    })
  })
}
