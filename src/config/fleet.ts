/**
 * (ours) Keys of the fleet backend: where etcd is, which part of it is hacheck's, who this host
 * is, and how to authenticate. `fleet_etcd_endpoints: null` (the default) means no fleet:
 * nothing is loaded and behaviour is exactly as without these keys.
 *
 * Each key is checked on its own here (schema); the checks that span keys (a certificate
 * without its key, http and https endpoints mixed, ...) are in {@link fleetSettings}, and the
 * TLS files are read (so checked readable) by `fleet/client.ts`; both run at start-up
 * and in the tools, before anything connects.
 */
import { hostname } from 'node:os'
import { Type } from './json-schema.js'
import { HC_ERR_CONFIG } from '../errors.js'
import { Nullable, type KeySpec } from './schema.js'

/** An etcd client URL: `http(s)://host:port`, an optional trailing `/`, nothing else. */
const ENDPOINT_PATTERN = '^https?://(\\[[0-9a-fA-F:.]+\\]|[a-zA-Z0-9.-]+):[0-9]{1,5}/?$'
/** A host name as it appears in a fleet key: no `/`, nothing a key could be confused by. */
export const FLEET_HOST_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$'
const FLEET_HOST_RE = new RegExp(FLEET_HOST_PATTERN)

/** The fleet section of the config key table. */
export const fleetKeys = {
  fleet_etcd_endpoints: {
    schema: Nullable(Type.Array(Type.String({ pattern: ENDPOINT_PATTERN, maxLength: 300 }), { minItems: 1, maxItems: 32 })),
    default: null,
    expected: 'a list of 1-32 etcd client URLs (http://host:2379 or https://host:2379), or null (no fleet)',
    description: 'etcd client URLs; see [Fleet](fleet.md#fleet-ours)'
  },
  fleet_prefix: {
    schema: Type.String({ pattern: '^[\\x21-\\x7e]{0,255}/$', default: '/hacheck/' }),
    expected: 'a key prefix of printable characters without spaces, ending in / (at most 256)',
    description: 'where hacheck\'s keys live in etcd'
  },
  fleet_host_name: {
    schema: Nullable(Type.String({ pattern: FLEET_HOST_PATTERN })),
    default: null,
    expected: 'a host name ([a-zA-Z0-9._-], starting with a letter or digit), or null for the machine\'s host name',
    description: 'this host\'s name in `<prefix>hosts/<host>/`'
  },
  fleet_etcd_username: {
    schema: Nullable(Type.String({ minLength: 1, maxLength: 256 })),
    default: null,
    expected: 'an etcd user name, or null (no authentication)',
    description: 'etcd credentials (both or neither)'
  },
  fleet_etcd_password: {
    schema: Nullable(Type.String({ minLength: 1, maxLength: 1024 })),
    default: null,
    expected: 'the etcd user\'s password, or null',
    description: 'etcd credentials (both or neither)'
  },
  fleet_etcd_ca_file: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a readable PEM file (CA certificates for etcd), or null (system CAs for https endpoints)',
    description: 'TLS to etcd: CA, client certificate and key (https endpoints only)'
  },
  fleet_etcd_cert_file: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a readable PEM file (client certificate for etcd), or null',
    description: 'TLS to etcd: CA, client certificate and key (https endpoints only)'
  },
  fleet_etcd_key_file: {
    schema: Nullable(Type.String({ minLength: 1 })),
    default: null,
    expected: 'a readable PEM file (the client certificate\'s private key), or null',
    description: 'TLS to etcd: CA, client certificate and key (https endpoints only)'
  },
  fleet_reconnect_max_seconds: {
    schema: Type.Number({ minimum: 1, maximum: 600, default: 5 }),
    expected: 'seconds 1-600 (the longest back-off between attempts to reach etcd)',
    description: 'longest back-off between attempts to reach etcd'
  },
  fleet_publish: {
    schema: Type.Boolean({ default: true }),
    expected: 'true or false',
    description: 'publish this host\'s answers under `<prefix>status/` when a fleet is set; see [Fleet status](fleet.md#fleet-status)'
  },
  fleet_status_ttl: {
    schema: Type.Integer({ minimum: 2, maximum: 3600, default: 30 }),
    expected: 'whole seconds 2-3600 (the lease the published status hangs on)',
    description: 'seconds a dead host\'s published status outlives it (the TTL of its one etcd lease)'
  }
} satisfies Record<string, KeySpec>

/** The fleet keys as a config carries them. */
export interface FleetConfig {
  fleet_etcd_endpoints: readonly string[] | null
  fleet_prefix: string
  fleet_host_name: string | null
  fleet_etcd_username: string | null
  fleet_etcd_password: string | null
  fleet_etcd_ca_file: string | null
  fleet_etcd_cert_file: string | null
  fleet_etcd_key_file: string | null
  fleet_reconnect_max_seconds: number
  fleet_publish: boolean
  fleet_status_ttl: number
}

/** The fleet settings after the checks across keys; TLS files are paths, not yet read. */
export interface FleetSettings {
  endpoints: string[]
  prefix: string
  /** This host's name in `<prefix>hosts/<host>/`. */
  host: string
  auth: { username: string, password: string } | null
  tls: { caFile: string | null, certFile: string | null, keyFile: string | null } | null
  /** Settings that work but deserve a warning (a password sent in clear text off the machine). */
  warnings: string[]
}

const isLoopbackUrl = (url: string): boolean => /^https?:\/\/(127\.[0-9.]+|localhost|\[::1\]):/.test(url)

/**
 * The fleet settings of a config, or null when no fleet is configured.
 *
 * @param machineHost - the default for `fleet_host_name` (the machine's host name).
 * @throws HC_ERR_CONFIG naming the keys when they do not fit together: endpoints that mix
 *   http and https; TLS files with http endpoints; a certificate without its key (or the
 *   reverse); a user name without a password (or the reverse); a machine host name that
 *   cannot be a fleet key (set `fleet_host_name`).
 */
export function fleetSettings (config: FleetConfig, machineHost: string = hostname()): FleetSettings | null {
  const endpoints = config.fleet_etcd_endpoints
  if (endpoints === null) return null
  const fail = (why: string): never => { throw new HC_ERR_CONFIG(`config error: ${why}`) }
  const secure = endpoints.filter((e) => e.startsWith('https://')).length
  if (secure !== 0 && secure !== endpoints.length) fail('fleet_etcd_endpoints mixes http:// and https:// URLs')
  const tlsFiles = config.fleet_etcd_ca_file !== null || config.fleet_etcd_cert_file !== null || config.fleet_etcd_key_file !== null
  if (tlsFiles && secure === 0) fail('fleet_etcd_ca_file/cert_file/key_file need https:// endpoints in fleet_etcd_endpoints')
  if ((config.fleet_etcd_cert_file === null) !== (config.fleet_etcd_key_file === null)) {
    fail('fleet_etcd_cert_file and fleet_etcd_key_file go together: set both or neither')
  }
  if ((config.fleet_etcd_username === null) !== (config.fleet_etcd_password === null)) {
    fail('fleet_etcd_username and fleet_etcd_password go together: set both or neither')
  }
  const host = config.fleet_host_name ?? machineHost
  if (!FLEET_HOST_RE.test(host)) fail(`the host name ${JSON.stringify(host.slice(0, 64))} cannot name a fleet key; set fleet_host_name`)
  const warnings: string[] = []
  if (config.fleet_etcd_password !== null && secure === 0 && !endpoints.every(isLoopbackUrl)) {
    warnings.push('fleet_etcd_password is sent to etcd over plain http://; use https:// endpoints off the machine')
  }
  return {
    warnings,
    endpoints: endpoints.map((e) => e.replace(/\/$/, '')),
    prefix: config.fleet_prefix,
    host,
    auth: config.fleet_etcd_username === null || config.fleet_etcd_password === null
      ? null
      : { username: config.fleet_etcd_username, password: config.fleet_etcd_password },
    tls: secure === 0
      ? null
      : { caFile: config.fleet_etcd_ca_file, certFile: config.fleet_etcd_cert_file, keyFile: config.fleet_etcd_key_file }
  }
}
