/**
 * Where a check goes: host and port from the URL and the request headers (docs/http-api.md "Check routes").
 *
 * - `X-Haproxy-Server-State` (HAProxy `http-check send-state`): its `address=` replaces the host
 *   and its `port=` the URL's port; a header without them changes nothing. HAProxy 2.6 sends
 *   the server line's own port here.
 * - otherwise (no `address=`) `X-Nerve-Check-IP` gives the host (Airbnb's nerve, Kubernetes pod IPs).
 * - a host equal to an address of this machine becomes 127.0.0.1, so spool and cache keys stay
 *   the same however the balancer names us.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { networkInterfaces } from 'node:os'
import { HC_ERR_BAD_TARGET } from '../errors.js'
import { LOCAL_HOST, isValidHost } from '../spool/spool.js'

/** A resolved check target address. */
export interface TargetAddress {
  host: string
  /** 0-65535 as given; the route decides which ports a protocol accepts. */
  port: number
}

/** The fields of an `X-Haproxy-Server-State` value that move a check; others are ignored. */
export interface ServerState {
  address?: string
  port?: number
}

/**
 * Parses `UP 2/3; address=srv1; port=1234; name=bck/srv2; ...`. Unknown fields, a port that
 * is not 1-65535 and an empty address are ignored.
 */
export function parseServerState (value: string): ServerState {
  const state: ServerState = {}
  for (const part of value.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    const name = part.slice(0, eq).trim().toLowerCase()
    const val = part.slice(eq + 1).trim()
    if (name === 'address' && val !== '') {
      state.address = val
    } else if (name === 'port' && /^[0-9]{1,5}$/.test(val)) {
      const port = Number(val)
      if (port >= 1 && port <= 65535) state.port = port
    }
  }
  return state
}

function headerValue (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Lower-case, without IPv6 brackets or the IPv4-mapped prefix, so equal addresses compare equal. */
export function normaliseHost (host: string): string {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h.startsWith('::ffff:') && h.includes('.')) h = h.slice(7)
  return h
}

/**
 * The addresses of this machine's interfaces (normalised), read once at start-up.
 * Hosts in this set are checked as 127.0.0.1.
 */
export function localAddresses (): ReadonlySet<string> {
  const out = new Set<string>([LOCAL_HOST])
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) out.add(normaliseHost(info.address))
  }
  return out
}

/**
 * Resolves the check target.
 *
 * @param urlPort - the port from the URL.
 * @param headers - the request headers (lower-case names, as node:http gives them).
 * @param local - this machine's addresses, from {@link localAddresses}.
 * @throws HC_ERR_BAD_TARGET (400) when a header names a host that is not a host name or address.
 */
export function resolveTarget (urlPort: number, headers: IncomingHttpHeaders, local: ReadonlySet<string>): TargetAddress {
  const stateHeader = headerValue(headers, 'x-haproxy-server-state')
  const state = stateHeader === undefined ? {} : parseServerState(stateHeader)
  const host = state.address ?? headerValue(headers, 'x-nerve-check-ip')
  const port = state.port ?? urlPort
  if (host === undefined || host.trim() === '') return { host: LOCAL_HOST, port }
  const normalised = normaliseHost(host)
  if (!isValidHost(normalised)) {
    throw new HC_ERR_BAD_TARGET(JSON.stringify(host))
  }
  return { host: local.has(normalised) ? LOCAL_HOST : normalised, port }
}
