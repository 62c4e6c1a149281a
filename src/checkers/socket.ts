/**
 * A TCP connection for the socket-level checkers (tcp, smtp), bounded by the probe's signal, and a
 * bound on what a peer may send to a probe (all the connection-level checkers).
 */
import { connect, type Socket } from 'node:net'

/**
 * Opens a TCP connection. `signal` destroys the socket (with an AbortError) whenever it fires
 * until the socket closes, so it bounds the connect and the exchange after it. The returned
 * socket is the caller's to destroy; it has no error listener left attached, so the caller must
 * add one before doing I/O.
 *
 * The signal is watched here rather than passed to `net.connect`: Node ties it to the socket
 * with a stream-finished watcher that builds a premature-close error (stack trace included) for
 * every socket destroyed before its end, which is every probe's (about 4% of a tcp probe's CPU).
 *
 * @throws the socket error (ECONNREFUSED, ...) or an AbortError when `signal` fires first.
 */
export async function openSocket (host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new DOMException('The operation was aborted', 'AbortError'))
      return
    }
    const socket = connect({ host, port })
    const onAbort = (): void => { socket.destroy(new DOMException('The operation was aborted', 'AbortError')) }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('close', () => { signal.removeEventListener('abort', onAbort) })
    const onError = (err: Error): void => { reject(err) }
    socket.once('error', onError)
    socket.once('connect', () => {
      socket.off('error', onError)
      resolve(socket)
    })
  })
}

/** Thrown into a socket that sent more than a probe ever needs (see {@link capReads}). */
export class TooMuchDataError extends Error {
  constructor (maxBytes: number) {
    super(`the peer sent more than ${maxBytes} bytes`)
    this.name = 'TooMuchDataError'
  }
}

/**
 * Destroys `socket` with a {@link TooMuchDataError} once it has received more than `maxBytes`.
 * A probe's exchange is small and known; a peer that keeps sending (a bulk reply that never
 * ends, a length prefix of gigabytes) must not make a client library buffer it all.
 */
export function capReads (socket: Socket, maxBytes: number): void {
  let received = 0
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length
    if (received > maxBytes) socket.destroy(new TooMuchDataError(maxBytes))
  })
}
