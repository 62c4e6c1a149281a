/**
 * The `tcp` protocol: connect to host:port and close.
 *
 * Proves: the port accepts connections (the kernel completed the handshake, so a listener
 * exists and its backlog is not full). Does not prove the service answers: a wedged process
 * whose socket still listens passes. Messages as the reference (docs/http-api.md "Check routes").
 */
import { performance } from 'node:perf_hooks'
import { openSocket } from './socket.js'
import { describeError, errorCode, failureStatus, seconds } from './status.js'
import { down, up, type Checker } from './types.js'

/** The `tcp` protocol (see the file's description). */
export const tcp: Checker = {
  pathRequired: false,
  probes: true,
  check: async (target, ctx) => {
    const started = performance.now()
    try {
      const socket = await openSocket(target.address, target.port, ctx.signal)
      socket.destroy()
      return up(`Connected in ${seconds(performance.now() - started)}s`, 'L4OK')
    } catch (err) {
      const took = seconds(performance.now() - started)
      if (ctx.signal.aborted) return down(`Connection timed out after ${took}s`, 'L4TOUT')
      return down(`Unexpected error ${describeError(err)} after ${took}s`, failureStatus('connect', false, errorCode(err)))
    }
  }
}
