/**
 * A TCP connection for the socket-level checkers (tcp, smtp), bounded by the probe's signal, and a
 * bound on what a peer may send to a probe (all the connection-level checkers).
 */
import { connect, type Socket } from 'node:net'

/**
 * Opens a TCP connection. The returned socket is the caller's to destroy; it has no error
 * listener left attached, so the caller must add one before doing I/O.
 *
 * @throws the socket error (ECONNREFUSED, ...) or an AbortError when `signal` fires first.
 */
export async function openSocket (host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ host, port, signal })
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
