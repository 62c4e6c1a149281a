/**
 * Stopping without resetting keep-alive clients. Node's `http.Server.close()` stops accepting
 * and at once destroys every connection that is between two requests, including one whose next
 * request is already in the kernel's buffer, unread: that client gets a reset for a request it
 * had sent. Under keep-alive load that is nearly every connection.
 *
 * So on close, before Fastify closes the server: stop accepting (the listening socket only),
 * then give open connections up to `graceMs` to send what they were sending. Fastify answers
 * every request while closing with `Connection: close`, so each such connection finishes its
 * request, gets its answer and is closed by the server. Only connections that stayed silent
 * for the whole grace are then closed idle, by `http.Server.close()` as before.
 */
import { Server as NetServer, type Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

/** Longest wait for open connections to finish on close, milliseconds. */
export const CLOSE_GRACE_MS = 250

/**
 * Installs the close grace on an app (before it listens).
 *
 * @param graceMs - bound on the wait; `keep_alive_timeout` is a natural cap (an idle
 *   connection is closed by then anyway).
 */
export function finishConnectionsOnClose (app: FastifyInstance, graceMs: number): void {
  const sockets = new Set<Socket>()
  let onDrained: (() => void) | undefined
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      if (sockets.size === 0) onDrained?.()
    })
  })
  app.addHook('preClose', async () => {
    if (!app.server.listening) return
    // net's close, not http's: stop accepting without destroying connections between requests.
    NetServer.prototype.close.call(app.server)
    if (sockets.size === 0) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { onDrained?.() }, graceMs)
      onDrained = () => {
        onDrained = undefined
        clearTimeout(timer)
        resolve()
      }
    })
  })
}
