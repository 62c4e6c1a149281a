import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildConfig } from '../../src/config/index.js'
import { hasCode } from '../../src/errors.js'

/** The message of the config error `raw` raises. */
function errorOf (raw: Record<string, unknown>): string {
  try {
    buildConfig(raw, '/etc/hacheck/hacheck.yaml')
  } catch (err) {
    assert.ok(hasCode(err, 'HC_ERR_CONFIG'))
    return err.message
  }
  throw new Error('no error')
}

test('a bad item of a list is named by position and value, with what it must be', () => {
  assert.equal(errorOf({ allowed_check_networks: ['10.0.0.0/8', '10.0.0.0/33'] }),
    "config error in /etc/hacheck/hacheck.yaml: key 'allowed_check_networks' must be a list of CIDR networks (e.g. 10.0.0.0/8): " +
    'item 2 ("10.0.0.0/33") is not a CIDR network (address/prefix, e.g. 10.0.0.0/8; prefix at most 32 for IPv4, 128 for IPv6)')
  assert.match(errorOf({ remote_spool_allowed_cidrs: ['127.0.0.1', 'localhost'] }), /: item 2 \("localhost"\) is not a CIDR network/)
  assert.match(errorOf({ http_headers_to_copy: ['Host', 7] }), /: item 2 \(number 7\) is not a header name$/)
})

test('a bad agent_checks entry is named: its check, its value type, or its service name', () => {
  assert.match(errorOf({ agent_checks: { web: 'http/8080/health', db: 'tcp:5432' } }),
    /key 'agent_checks' must be a mapping of service names to checks <protocol>\/<port>\/<query>: entry db \("tcp:5432"\) is not a check <protocol>\/<port>\/<query> \(e\.g\. http\/8080\/health or tcp\/5432\)$/)
  assert.match(errorOf({ agent_checks: { web: 8080 } }), /: entry web \(number 8080\) is not a check/)
  assert.match(errorOf({ agent_checks: { 'my web': 'tcp/80' } }), /: entry "my web" is not a service name \(\[\.a-zA-Z0-9_-\]\+\)$/)
})

test('a value of the wrong shape is still described as a whole', () => {
  assert.match(errorOf({ allowed_check_networks: '10.0.0.0/8' }), /must be a list of CIDR networks \(e\.g\. 10\.0\.0\.0\/8\), got string "10\.0\.0\.0\/8"$/)
  assert.match(errorOf({ agent_checks: ['web'] }), /must be a mapping .*, got a list$/)
})
