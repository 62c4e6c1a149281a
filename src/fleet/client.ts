/**
 * (ours) The etcd client, for the watcher and the tools: built from the fleet settings, with a
 * deadline on every call, and loaded only when a fleet is configured (the `etcd3` package and
 * gRPC cost a fleet-less hacheck nothing, not even their load time).
 *
 * Every call carries `hasleader: true` (what etcd's own client sends with `WithRequireLeader`):
 * a member cut off from its cluster refuses it at once, and cancels a watch it can no longer
 * serve, instead of answering from a minority. gRPC keepalive pings find a silent connection
 * (a partition that drops packets) within {@link KEEPALIVE_TIME_MS} + {@link KEEPALIVE_TIMEOUT_MS}.
 *
 * No circuit breaker: etcd3's default per-host breaker opened after three failures of any kind
 * (a page too large for gRPC's 4 MiB message limit among them) and refused every call for a
 * while, so a read that only needed smaller pages never completed. A failed call now fails that
 * call alone; the watcher's cycle retries with back-off, and a call is retried on another
 * endpoint only when the error says the endpoint is unwell (docs/fleet.md "Limits").
 */
import { readFile } from 'node:fs/promises'
import type { Etcd3, IKeyValue, IOptions } from 'etcd3'
import type { FleetSettings } from '../config/fleet.js'
import { HC_ERR_CONFIG } from '../errors.js'
import { MAX_FLEET_VALUE_BYTES } from './keys.js'
import type { FleetKv } from './view.js'

/** Deadline on one etcd call (range, txn, lease grant), milliseconds. */
export const CALL_TIMEOUT_MS = 5000
/** gRPC keepalive ping interval; etcd refuses pings more often than every 5 s. */
export const KEEPALIVE_TIME_MS = 10000
/** How long a keepalive ping may go unanswered before the connection counts as dead. */
export const KEEPALIVE_TIMEOUT_MS = 5000
/** Keys read per range request at first; halved when a page is too large for gRPC. */
const PAGE_KEYS = 500
/** A page smaller than this (a quarter of gRPC's 4 MiB message limit) lets the next one double. */
const GROW_BELOW_BYTES = 1024 * 1024
/** Most keys one read returns by default; past it the read stops (`complete: false`), never an unbounded list. */
export const MAX_RANGE_KEYS = 100000
/**
 * Most value bytes one read keeps (values over `MAX_FLEET_VALUE_BYTES` are not kept, only
 * their size): 10,000 keys of 6.5 KiB on average; a host's real keys take a few hundred bytes.
 */
export const MAX_RANGE_BYTES = 64 * 1024 * 1024

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
  const [{ Etcd3: Client, isRecoverableError }, grpc, cockatiel] = await Promise.all([import('etcd3'), import('@grpc/grpc-js'), import('cockatiel')])
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
    faultHandling: {
      host: () => cockatiel.noop,
      // Another endpoint for an endpoint's trouble (unavailable, no leader); a page too large
      // is the caller's to shrink, not a reason to retry it as it is.
      global: cockatiel.retry(cockatiel.handleWhen((err) => isRecoverableError(err) && !isTooLarge(err)), { maxAttempts: Math.max(0, settings.endpoints.length - 1) })
    },
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

/**
 * A key/value of the RPC layer as the view takes it. A value over `MAX_FLEET_VALUE_BYTES` is
 * not kept: only its size (`valueBytes`), which is all the readers need to fail it closed.
 */
export function toFleetKv (kv: IKeyValue): FleetKv {
  const big = kv.value.byteLength > MAX_FLEET_VALUE_BYTES
  return {
    key: kv.key.toString('utf8'),
    value: big ? Buffer.alloc(0) : kv.value,
    modRevision: Number(kv.mod_revision),
    created: kv.version === '1',
    ...(big ? { valueBytes: kv.value.byteLength } : {})
  }
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

/** What {@link rangePrefixes} read. */
export interface RangeRead {
  /** The revision the read reflects. */
  revision: number
  /** The keys kept, in key order per prefix (at most `maxKeys`). */
  kvs: FleetKv[]
  /** Keys under the prefixes at that revision: more than `kvs.length` when the read stopped at a bound. */
  total: number
  /** False when the read stopped at `maxKeys` or {@link MAX_RANGE_BYTES}. */
  complete: boolean
}

/** Options for {@link rangePrefixes}. */
export interface RangeOptions {
  /** Most keys kept; past it the read stops and counts the rest. Default {@link MAX_RANGE_KEYS}. */
  maxKeys?: number
  /** Keys only (no values): for counting keys per host. */
  keysOnly?: boolean
}

/**
 * Reads every key under each prefix at one revision (the first page's), page by page. A page
 * too large for gRPC's message limit (4 MiB) is read again in half as many keys, down to one;
 * a single value too large even alone is read as its key with an empty value (`valueBytes`
 * unknown, so readers fail it closed). Values over `MAX_FLEET_VALUE_BYTES` are not kept.
 * Bounded: past `maxKeys` keys or {@link MAX_RANGE_BYTES} value bytes the read stops, counts
 * what is left (`count_only`, no values) and returns `complete: false`.
 *
 * @throws the etcd error (unreachable, no leader, permission denied, deadline).
 */
export async function rangePrefixes (client: Etcd3, prefixes: readonly string[], opts: RangeOptions = {}): Promise<RangeRead> {
  const maxKeys = opts.maxKeys ?? MAX_RANGE_KEYS
  let revision = 0
  let pageKeys = PAGE_KEYS
  let bytes = 0
  let complete = true
  let total = 0
  const kvs: FleetKv[] = []
  for (const prefix of prefixes) {
    const end = prefixEnd(prefix)
    let from = Buffer.from(prefix)
    while (complete) {
      let res
      try {
        res = await client.kv.range({ key: from, range_end: end, limit: Math.min(pageKeys, maxKeys - kvs.length + 1), revision, keys_only: opts.keysOnly === true })
      } catch (err) {
        if (!isTooLarge(err)) throw err
        if (pageKeys > 1) {
          pageKeys = Math.max(1, Math.floor(pageKeys / 2))
          continue
        }
        res = await client.kv.range({ key: from, range_end: end, limit: 1, revision, keys_only: true })
        for (const kv of res.kvs) kv.value = Buffer.alloc(MAX_FLEET_VALUE_BYTES + 1)
      }
      if (revision === 0) revision = Number(res.header.revision)
      // A small page lets the next one grow again: one huge value does not slow the rest.
      if (res.kvs.reduce((n, kv) => n + kv.key.byteLength + kv.value.byteLength, 0) < GROW_BELOW_BYTES) pageKeys = Math.min(PAGE_KEYS, pageKeys * 2)
      for (const kv of res.kvs) {
        const read = toFleetKv(kv)
        bytes += read.value.byteLength
        if (kvs.length >= maxKeys || bytes > MAX_RANGE_BYTES) { complete = false; break }
        kvs.push(read)
      }
      const last = res.kvs[res.kvs.length - 1]
      if (!complete || !res.more || last === undefined) break
      from = Buffer.concat([last.key, Buffer.from([0])])
    }
  }
  if (complete) return { revision, kvs, total: kvs.length, complete }
  for (const prefix of prefixes) {
    total += Number((await client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), revision, count_only: true })).count)
  }
  return { revision, kvs, total, complete }
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

/** The cause of an etcd client error for people: its first line, at most 300 characters, cleaned. */
export function etcdReason (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return cleanEtcdMessage(message.split('\n')[0]?.slice(0, 300) ?? '')
}

/** An error message for people: the endpoints and the cause in one line, never a credential. */
export function describeEtcdError (settings: FleetSettings, err: unknown): string {
  return `etcd at ${settings.endpoints.join(', ')}: ${etcdReason(err)}`
}
