/** Keys of one check: cache, timeout, outbound limit, forwarded headers, where probes may go. Keys keep hacheck's spelling (docs/configuration.md); ours are flat snake_case too. */
import { Type } from './json-schema.js'
import { CIDR_ITEM, Cidr, HeaderName, Nullable, type KeySpec } from './schema.js'

/**
 * Where probes may go by default (ours): loopback, RFC 1918, shared address space (RFC 6598)
 * and IPv6 unique local addresses. Link-local (including cloud metadata at 169.254.169.254)
 * and public addresses are left out.
 */
export const DEFAULT_CHECK_NETWORKS: readonly string[] = Object.freeze([
  '127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'
])

/**
 * Cloud metadata and link-local service addresses (ours): refused as check targets whatever
 * `allowed_check_networks` says, so no header and no config can point a probe at them
 * (docs/security.md "Check-target guard"). IPv4-mapped IPv6 forms count as their IPv4 address;
 * NAT64 forms (RFC 6052 well-known prefix `64:ff9b::/96`) are listed beside them.
 *
 * - `169.254.169.254`: the instance metadata service of AWS, GCP, Azure, OpenStack, Oracle,
 *   DigitalOcean, Hetzner, IBM and others; `169.254.169.253` / `169.254.169.123`: AWS DNS and
 *   time; `169.254.170.2`: Amazon ECS task metadata and credentials; `169.254.170.23`: Amazon EKS
 *   Pod Identity; `169.254.0.23`: Tencent Cloud metadata; `100.100.100.200`: Alibaba Cloud
 *   metadata (inside `100.64.0.0/10`); `168.63.129.16`: Azure WireServer.
 * - `fd00:ec2::/64`: AWS IMDS, DNS, time and EKS Pod Identity over IPv6 (inside `fc00::/7`).
 */
export const DENIED_CHECK_NETWORKS: readonly string[] = Object.freeze([
  '169.254.169.254/32', '169.254.169.253/32', '169.254.169.123/32', '169.254.170.2/32', '169.254.170.23/32',
  '169.254.0.23/32', '100.100.100.200/32', '168.63.129.16/32',
  'fd00:ec2::/64',
  '64:ff9b::a9fe:a9fe/128', '64:ff9b::a9fe:a9fd/128', '64:ff9b::a9fe:a97b/128', '64:ff9b::a9fe:aa02/128',
  '64:ff9b::a9fe:aa17/128', '64:ff9b::a9fe:17/128', '64:ff9b::6464:64c8/128', '64:ff9b::a83f:8110/128'
])

/** The checks section of the config key table. */
export const checksKeys = {
  cache_time: {
    schema: Type.Number({ minimum: 0, default: 10 }),
    expected: 'a number of seconds >= 0',
    description: 'how long a checker result (success or failure) is reused',
    reference: true
  },
  healthcheck_timeout: {
    schema: Type.Number({ exclusiveMinimum: 0, default: 10 }),
    expected: 'a number of seconds > 0',
    description: 'bound on one upstream probe',
    reference: true
  },
  max_clients: {
    schema: Type.Integer({ minimum: 1, default: 10 }),
    expected: 'an integer >= 1',
    description: 'outbound probes in flight at once',
    reference: true
  },
  cache_max_entries: {
    schema: Type.Integer({ minimum: 1, default: 10000 }),
    expected: 'an integer >= 1',
    description: 'most results kept in the cache (least recently used go first)'
  },
  cache_max_bytes: {
    schema: Type.Integer({ minimum: 1024, default: 32 * 1024 * 1024 }),
    expected: 'a number of bytes >= 1024',
    description: 'most bytes of results kept in the cache (keys and bodies as held in memory); least recently used go first'
  },
  service_name_header: {
    schema: Nullable(HeaderName),
    default: null,
    expected: 'a header name or null',
    description: 'HTTP probes send the service name in this header; the name joins the cache key',
    reference: true
  },
  http_headers_to_copy: {
    schema: Type.Array(HeaderName, { default: ['Host'] }),
    expected: 'a list of header names',
    item: 'a header name',
    description: 'request headers forwarded to HTTP(S) probes',
    reference: true
  },
  allowed_check_networks: {
    schema: Type.Array(Cidr),
    default: DEFAULT_CHECK_NETWORKS,
    expected: 'a list of CIDR networks (e.g. 10.0.0.0/8)',
    item: CIDR_ITEM,
    description: 'where probes may go (403 otherwise); see [Check-target guard](security.md#check-target-guard)'
  }
} satisfies Record<string, KeySpec>
