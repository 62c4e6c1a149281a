/**
 * (ours) The etcd client, for the watcher and the tools: built from the fleet settings, with a
 * deadline on every call, and loaded only when a fleet is configured (the `etcd3` package and
 * gRPC cost a fleet-less hacheck nothing, not even their load time).
 *
 * Every call carries `hasleader: true` (what etcd's own client sends with `WithRequireLeader`):
 * a member cut off from its cluster refuses it at once, and cancels a watch it can no longer
 * serve, instead of answering from a minority. gRPC keepalive pings find a silent connection
 * (a partition that drops packets) within {@link KEEPALIVE_TIME_MS} + {@link KEEPALIVE_TIMEOUT_MS}.
 */
import { readFile } from 'node:fs/promises'
import type { Etcd3, IKeyValue, IOptions } from 'etcd3'
import type { FleetSettings } from '../config/fleet.js'
import { HC_ERR_CONFIG } from '../errors.js'
import type { FleetKv } from './view.js'

/** Deadline on one etcd call (range, txn, lease grant), milliseconds. */
export const CALL_TIMEOUT_MS = 5000
/** gRPC keepalive ping interval; etcd refuses pings more often than every 5 s. */
export const KEEPALIVE_TIME_MS = 10000
/** How long a keepalive ping may go unanswered before the connection counts as dead. */
export const KEEPALIVE_TIMEOUT_MS = 5000
/** Keys read per range request at first; halved when a page is too large for gRPC. */
const PAGE_KEYS = 500
/** Most keys one read returns in all; more is an error, not an unbounded list. */
export const MAX_RANGE_KEYS = 100000

type Credentials = NonNullable<IOptions['credentials']>

async function readPem (key: string, path: string | null): Promise<Buffer | undefined> {
  if (path === null) return undefined
  try {
    return await readFile(path)
  } catch (err) {
    throw new HC_ERR_CONFIG(`config error: ${key} ${path} cannot be read: ${(err as Error).message}`)
  }
}

/**
 * The TLS material of the settings, read from the files; undefined for http endpoints (or
 * https with the system CAs and no client certificate).
 *
 * @throws HC_ERR_CONFIG naming the key and the file when one cannot be read.
 */
export async function readFleetCredentials (settings: FleetSettings): Promise<Credentials | undefined> {
  if (settings.tls === null) return undefined
  // Settled in key order, so with two unreadable files the error names the first key, always.
  const read = await Promise.allSettled([
    readPem('fleet_etcd_ca_file', settings.tls.caFile),
    readPem('fleet_etcd_cert_file', settings.tls.certFile),
    readPem('fleet_etcd_key_file', settings.tls.keyFile)
  ])
  const [ca, cert, key] = read.map((r) => { if (r.status === 'rejected') throw r.reason; return r.value })
  if (ca === undefined && cert === undefined) return undefined
  // gRPC takes no root certificate as "the system's"; the etcd3 typings insist on one.
  return { rootCertificate: ca as Buffer, certChain: cert, privateKey: key }
}

/** Options for {@link openEtcd}. */
export interface OpenEtcdOptions {
  /** What {@link readFleetCredentials} returned (read once, reused across reconnects). */
  credentials: Credentials | undefined
  /** Deadline per call, milliseconds; default {@link CALL_TIMEOUT_MS}. */
  timeoutMs?: number
  /** Extra gRPC channel options (the bench opens one connection per simulated host). */
  grpcOptions?: Record<string, string | number>
}

/**
 * A new etcd client (loads `etcd3` on first use). It connects lazily, on the first call.
 * Close it with `close()` after cancelling its watchers.
 */
export async function openEtcd (settings: FleetSettings, opts: OpenEtcdOptions): Promise<Etcd3> {
  const [{ Etcd3: Client }, grpc] = await Promise.all([import('etcd3'), import('@grpc/grpc-js')])
  const timeoutMs = opts.timeoutMs ?? CALL_TIMEOUT_MS
  const requireLeader: import('@grpc/grpc-js').Interceptor = (options, nextCall) => new grpc.InterceptingCall(nextCall(options), {
    start (metadata, listener, next) {
      metadata.set('hasleader', 'true')
      next(metadata, listener)
    }
  })
  return new Client({
    hosts: settings.endpoints,
    ...(settings.auth === null ? {} : { auth: { username: settings.auth.username, password: settings.auth.password } }),
    ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
    dialTimeout: timeoutMs,
    grpcOptions: {
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      ...opts.grpcOptions
    },
    defaultCallOptions: (context) => context.isStream
      ? { interceptors: [requireLeader] }
      : { interceptors: [requireLeader], deadline: Date.now() + timeoutMs }
  })
}

/** A key/value of the RPC layer as the view takes it. */
export function toFleetKv (kv: IKeyValue): FleetKv {
  return { key: kv.key.toString('utf8'), value: kv.value, modRevision: Number(kv.mod_revision) }
}

/** The first key after every key starting with `prefix` (etcd's prefix range end). */
export function prefixEnd (prefix: string): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0])
}

function isTooLarge (err: unknown): boolean {
  return /RESOURCE_EXHAUSTED|larger than max|ResourceExhausted/i.test((err as Error).message)
}

/**
 * Reads every key under each prefix at one revision (the first page's), page by page; a page
 * too large for gRPC's message limit is read again in smaller pages.
 *
 * @returns the revision the read reflects and the keys, in key order per prefix.
 * @throws the etcd error (unreachable, no leader, permission denied, deadline), or an Error
 *   when the prefixes hold more than {@link MAX_RANGE_KEYS} keys.
 */
export async function rangePrefixes (client: Etcd3, prefixes: readonly string[]): Promise<{ revision: number, kvs: FleetKv[] }> {
  let revision = 0
  let pageKeys = PAGE_KEYS
  const kvs: FleetKv[] = []
  for (const prefix of prefixes) {
    const end = prefixEnd(prefix)
    let from = Buffer.from(prefix)
    for (;;) {
      let res
      try {
        res = await client.kv.range({ key: from, range_end: end, limit: pageKeys, revision })
      } catch (err) {
        if (!isTooLarge(err) || pageKeys === 1) throw err
        pageKeys = Math.max(1, Math.floor(pageKeys / 2))
        continue
      }
      if (revision === 0) revision = Number(res.header.revision)
      for (const kv of res.kvs) kvs.push(toFleetKv(kv))
      if (kvs.length > MAX_RANGE_KEYS) throw new Error(`more than ${MAX_RANGE_KEYS} keys under ${prefixes.join(', ')}`)
      const last = res.kvs[res.kvs.length - 1]
      if (!res.more || last === undefined) break
      from = Buffer.concat([last.key, Buffer.from([0])])
    }
  }
  return { revision, kvs }
}

/**
 * A gRPC status message without its empty fields: grpc-js writes `Label: ` with nothing after
 * it (`... Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: `); those
 * go, and so does an `Error: ` repeated inside a field.
 */
export function cleanEtcdMessage (message: string): string {
  return message
    .replace(/(^|[.,;]\s*)[A-Z][A-Za-z ]{0,40}:\s*(?:null|undefined)?\s*(?=[.,;]|$)/g, '$1')
    .replace(/(: )(?:Error: )+/g, '$1')
    .replace(/[\s.,;:]+$/, '')
}

/** An error message for people: the endpoints and the cause in one line, never a credential. */
export function describeEtcdError (settings: FleetSettings, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return `etcd at ${settings.endpoints.join(', ')}: ${cleanEtcdMessage(message.split('\n')[0]?.slice(0, 300) ?? '')}`
}
