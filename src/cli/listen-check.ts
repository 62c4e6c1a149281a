/**
 * Before a start creates anything on disk (the spool root, the log file), the server command
 * binds each address it will listen on and lets go at once, so that a bad `-B` (a typo, an
 * address this host does not have, a name that does not resolve) or a port in use fails with
 * one line and leaves no trace (docs/tools.md "Server command"). The real listen follows
 * moments later; a port taken in between still fails then, as before.
 */
import { createServer } from 'node:net'
import { HC_ERR_LISTEN, errnoCode } from '../errors.js'

/** One address to check. */
export interface ListenAddress {
  host: string
  port: number
}

/** Why an address cannot be listened on, in words, with the system code. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE',
  ENOTFOUND: 'the name does not resolve to an address',
  EAI_AGAIN: 'the name cannot be resolved now (DNS temporarily failing)',
  EAI_FAIL: 'the name cannot be resolved (DNS failure)',
  EINVAL: 'not an address this host can bind'
}

/** `host:port`, with an IPv6 address in brackets. */
export function hostPort (host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** The reason part of a listen error: `address already in use (EADDRINUSE)`, or the code alone. */
export function listenReason (err: unknown): string {
  const code = errnoCode(err)
  if (code === undefined) return err instanceof Error ? err.message : String(err)
  const why = LISTEN_ERRORS[code]
  return why === undefined ? code : `${why} (${code})`
}

async function tryListen ({ host, port }: ListenAddress): Promise<void> {
  const server = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, exclusive: true }, resolve)
    })
  } catch (err) {
    throw new HC_ERR_LISTEN(hostPort(host, port), listenReason(err))
  } finally {
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }
}

/**
 * Binds and releases each address in turn.
 *
 * @throws HC_ERR_LISTEN for the first that cannot be listened on, naming it and why.
 */
export async function checkListenAddresses (addresses: readonly ListenAddress[]): Promise<void> {
  for (const address of addresses) await tryListen(address)
}
