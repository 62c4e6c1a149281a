import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildConfig, loadConfig, makeConfig } from '../../src/config/index.js'
import { hasCode } from '../../src/errors.js'
import { configValues, tempDir } from '../helper.js'

const DEFAULTS = {
  cache_time: 10,
  healthcheck_timeout: 10,
  max_clients: 10,
  service_name_header: null,
  log_path: 'stderr',
  mysql_username: null,
  mysql_password: null,
  rlimit_nofile: null,
  allow_remote_spool_changes: false,
  http_headers_to_copy: ['Host'],
  cache_max_entries: 10000,
  cache_max_bytes: 32 * 1024 * 1024,
  spool_root: null,
  // ours (operations and security)
  remote_spool_token: null,
  remote_spool_allowed_cidrs: null,
  allowed_check_networks: ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'],
  max_connections: 4096,
  max_connections_per_client: 1024,
  metrics_allowed_cidrs: null,
  keep_alive_timeout: 5,
  request_header_timeout: 5,
  shutdown_timeout: 15,
  // ours (role checkers)
  postgres_username: null,
  postgres_password: null,
  postgres_database: 'postgres',
  redis_username: null,
  redis_password: null,
  mysql_credential_hosts: ['127.0.0.1/32'],
  mysql_credential_ports: [3306],
  postgres_credential_hosts: ['127.0.0.1/32'],
  postgres_credential_ports: [5432],
  postgres_allow_md5: false,
  redis_credential_hosts: ['127.0.0.1/32'],
  redis_credential_ports: [6379],
  // ours (agent-check)
  agent_port: null,
  agent_bind: null,
  agent_max_connections: 4096,
  agent_max_connections_per_client: 1024,
  agent_checks: {},
  // ours (groups, scripts, http_status)
  groups: {},
  group_failure_code: 503,
  scripts: {},
  script_starts_per_second: 20,
  http_status_root: null,
  // ours (fleet)
  fleet_etcd_endpoints: null,
  fleet_prefix: '/hacheck/',
  fleet_host_name: null,
  fleet_etcd_username: null,
  fleet_etcd_password: null,
  fleet_etcd_ca_file: null,
  fleet_etcd_cert_file: null,
  fleet_etcd_key_file: null,
  fleet_reconnect_max_seconds: 5,
  fleet_publish: true,
  fleet_status_ttl: 30,
  // ours (load weights)
  load_weight_sources: [],
  load_weight_window: 'avg10',
  load_weight_factor: 1,
  load_weight_floor: 10,
  load_weight_interval_seconds: 2,
  load_weight_hysteresis: 5,
  pressure_root: '/proc/pressure',
  load_weight_cgroups: {}
}

test('no config file means every default (docs/configuration.md)', async () => {
  const { config, warnings, source } = await loadConfig()
  assert.deepEqual(configValues(config), DEFAULTS)
  assert.deepEqual([config.agentChecks.size, config.checkGroups.size, config.fleet, config.loadWeight], [0, 0, null, null], 'derived from the defaults')
  assert.deepEqual(warnings, [])
  assert.equal(source, 'defaults')
})

test('an empty file means all defaults (the reference crashes)', async (t) => {
  const dir = await tempDir(t)
  for (const text of ['', '\n', '# only a comment\n', '---\n']) {
    const file = join(dir, 'empty.yaml')
    await writeFile(file, text)
    const { config } = await loadConfig(file)
    assert.deepEqual(configValues(config), DEFAULTS, JSON.stringify(text))
  }
})

test('a full file is read with its types', async (t) => {
  const file = join(await tempDir(t), 'hacheck.yaml')
  await writeFile(file, [
    'cache_time: 2.5',
    'healthcheck_timeout: 3',
    'max_clients: 50',
    'service_name_header: X-Service-Name',
    'log_path: /var/log/hacheck.log',
    'mysql_username: hacheck',
    "mysql_password: '1234'",
    'rlimit_nofile: max',
    'allow_remote_spool_changes: true',
    'http_headers_to_copy: [Host, X-Forwarded-Proto]',
    'spool_root: /srv/spool'
  ].join('\n'))
  const { config, warnings } = await loadConfig(file)
  assert.deepEqual(warnings, [])
  assert.equal(config.cache_time, 2.5)
  assert.equal(config.max_clients, 50)
  assert.equal(config.service_name_header, 'X-Service-Name')
  assert.equal(config.mysql_password, '1234')
  assert.equal(config.rlimit_nofile, 'max')
  assert.equal(config.allow_remote_spool_changes, true)
  assert.deepEqual(config.http_headers_to_copy, ['Host', 'X-Forwarded-Proto'])
  assert.equal(config.spool_root, '/srv/spool')
})

test('a wrong type fails naming the key, the expected type and the file', async (t) => {
  const file = join(await tempDir(t), 'bad.yaml')
  const cases: Array<[string, RegExp]> = [
    ['cache_time: soon', /key 'cache_time' must be a number of seconds >= 0, got string "soon"/],
    ['max_clients: 2.5', /key 'max_clients' must be an integer >= 1/],
    ['healthcheck_timeout: 0', /key 'healthcheck_timeout' must be a number of seconds > 0/],
    ['allow_remote_spool_changes: "yes"', /key 'allow_remote_spool_changes' must be true or false/],
    ['http_headers_to_copy: Host', /key 'http_headers_to_copy' must be a list of header names/],
    ['mysql_password: 1234', /key 'mysql_password' must be a string or null \(quote it/],
    ['rlimit_nofile: lots', /key 'rlimit_nofile' must be an integer >= 1, 'max' or null/],
    ['service_name_header: "bad header"', /key 'service_name_header' must be a header name or null/]
  ]
  for (const [text, re] of cases) {
    await writeFile(file, text)
    await assert.rejects(loadConfig(file), (err: Error) => {
      assert.ok(hasCode(err, 'HC_ERR_CONFIG'))
      assert.match(err.message, re)
      assert.ok(err.message.includes(file), err.message)
      return true
    })
  }
})

test('an unknown key is a warning naming it, and the rest still loads', () => {
  const { config, warnings } = buildConfig({ cache_tme: 3, cache_time: 4 }, '/etc/hacheck.yaml')
  assert.equal(config.cache_time, 4)
  assert.deepEqual(warnings, ["unknown config key 'cache_tme' in /etc/hacheck.yaml (ignored)"])
})

test('a document that is not a mapping, bad YAML and a missing file are clear errors', async (t) => {
  assert.throws(() => buildConfig([1, 2], 'x.yaml'), /top level must be a mapping/)
  const dir = await tempDir(t)
  const file = join(dir, 'broken.yaml')
  await writeFile(file, 'cache_time: [1,\n')
  await assert.rejects(loadConfig(file), /^FastifyError \[HC_ERR_CONFIG\]: config file .*broken\.yaml, line 2, column 1: not valid YAML: /)
  await assert.rejects(loadConfig(join(dir, 'missing.yaml')), /cannot read config file/)
})

test('the config is frozen, lists included', () => {
  const config = makeConfig({ cache_time: 1 })
  assert.ok(Object.isFrozen(config))
  assert.ok(Object.isFrozen(config.http_headers_to_copy))
  assert.throws(() => { (config as { cache_time: number }).cache_time = 5 }, TypeError)
})

test('makeConfig refuses unknown keys so test typos fail loudly', () => {
  assert.throws(() => makeConfig({ cache_tim: 1 } as never), /unknown config key 'cache_tim'/)
})

test('network lists are validated as CIDR; a bare address is one host', () => {
  assert.deepEqual(makeConfig({ allowed_check_networks: ['10.0.0.1', 'fe80::/10', '[::1]/128'] }).allowed_check_networks,
    ['10.0.0.1', 'fe80::/10', '[::1]/128'])
  for (const bad of [['10.0.0.0/33'], ['::/129'], ['example.com/8'], ['10.0.0.0/x'], '10.0.0.0/8', [8]]) {
    assert.throws(() => buildConfig({ allowed_check_networks: bad }, 'f.yaml'),
      /config error in f\.yaml: key 'allowed_check_networks' must be a list of CIDR networks/, JSON.stringify(bad))
  }
  assert.throws(() => buildConfig({ remote_spool_allowed_cidrs: ['1.2.3.4/40'] }, 'f.yaml'), /remote_spool_allowed_cidrs/)
})

test('remote_spool_token must be long and printable', () => {
  assert.equal(makeConfig({ remote_spool_token: 'a-long-enough-token-0123' }).remote_spool_token, 'a-long-enough-token-0123')
  for (const bad of ['short', 'has a space in it 0123456', 1234567890123456]) {
    assert.throws(() => buildConfig({ remote_spool_token: bad }, 'f.yaml'), /key 'remote_spool_token' must be a string of at least 16/)
  }
})

test('timeouts and max_connections must be positive', () => {
  for (const key of ['keep_alive_timeout', 'request_header_timeout', 'shutdown_timeout', 'max_connections']) {
    assert.throws(() => buildConfig({ [key]: 0 }, 'f.yaml'), new RegExp(`key '${key}' must be`))
  }
  assert.throws(() => buildConfig({ max_connections: 1.5 }, 'f.yaml'), /max_connections' must be an integer >= 1/)
})

test('agent keys: agent_port, agent_bind, agent_checks are typed; bad values name the key', async (t) => {
  const file = join(await tempDir(t), 'agent.yaml')
  await writeFile(file, 'agent_port: 3334\nagent_bind: 127.0.0.1\nagent_checks:\n  web: http/8080/health\n  db: tcp/5432\n')
  const { config } = await loadConfig(file)
  assert.deepEqual([config.agent_port, config.agent_bind, config.agent_checks], [3334, '127.0.0.1', { web: 'http/8080/health', db: 'tcp/5432' }])
  for (const [key, bad] of [['agent_port', 70000], ['agent_port', 'x'], ['agent_checks', { web: 'http' }], ['agent_checks', { 'a/b': 'tcp/1' }], ['agent_checks', ['tcp/1']]] as const) {
    assert.throws(() => buildConfig({ [key]: bad }, 'f.yaml'), (err: Error) => hasCode(err, 'HC_ERR_CONFIG') && err.message.includes(`key '${key}'`), `${key}: ${JSON.stringify(bad)}`)
  }
})
