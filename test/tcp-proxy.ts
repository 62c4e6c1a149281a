/**
 * A counting TCP proxy on 127.0.0.1 in front of a real server: tests see how many connections
 * probes open (one per probe, none shared) and that each is closed afterwards; and a test can
 * cut it (every connection dropped, new ones refused) and restore it, to cut a client off.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

/** What the proxy saw. */
export interface CountingProxy {
  port: number
  /** Connections accepted so far. */
  connections: () => number
  /** Connections open now. */
  open: () => number
  /** Destroys every open connection; new ones are closed on arrival until {@link CountingProxy.restore}. */
  cut: () => void
  restore: () => void
}

/** Starts a proxy forwarding every connection to 127.0.0.1:`targetPort`; closed after the test. */
export async function countingProxy (t: TestContext, targetPort: number): Promise<CountingProxy> {
  let connections = 0
  const sockets = new Set<Socket>()
  const clients = new Set<Socket>()
  let blocked = false
  const server = createServer((client) => {
    if (blocked) { client.on('error', () => {}); client.destroy(); return }
    connections++
    sockets.add(client)
    clients.add(client)
    const upstream = connect(targetPort, '127.0.0.1')
    sockets.add(upstream)
    const close = (): void => { client.destroy(); upstream.destroy() }
    client.on('error', close).on('close', () => { sockets.delete(client); clients.delete(client); close() })
    upstream.on('error', close).on('close', () => { sockets.delete(upstream); close() })
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    open: () => clients.size,
    cut: () => { blocked = true; for (const s of sockets) s.destroy() },
    restore: () => { blocked = false }
  }
}
