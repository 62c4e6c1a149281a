/**
 * A TCP connection for the socket-level checkers (tcp, smtp), bounded by the probe's signal.
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
