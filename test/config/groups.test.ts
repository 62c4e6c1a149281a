import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makeConfig } from '../../src/config/index.js'
import { hasCode } from '../../src/errors.js'

test('groups: parsed once at load: members parse like check URLs without the service; script/<name> names a script', () => {
  const config = makeConfig({
    groups: { 'web-stack': ['tcp/5432', 'http/8080/health?deep=1', 'mysql/3306/', 'script/zk'] },
    scripts: { zk: { command: ['/usr/local/bin/zk-health-check.sh', '--zk-port', '2191'], timeout: 5 } }
  })
  const group = config.checkGroups.get('web-stack')
  assert.deepEqual(group?.members, [
    { spec: 'tcp/5432', protocol: 'tcp', port: 5432, query: '', queryString: '' },
    { spec: 'http/8080/health?deep=1', protocol: 'http', port: 8080, query: 'health', queryString: 'deep=1' },
    { spec: 'mysql/3306/', protocol: 'mysql', port: 3306, query: '', queryString: '' },
    { spec: 'script/zk', protocol: 'script', service: 'zk', port: 0, query: '', queryString: '' }
  ])
})

test('groups: a member that does not parse fails the load, naming naming the group, the member and why', () => {
  const cases: Array<[unknown, RegExp]> = [
    [['tcp/5432', 'htp/8080'], /groups\.g\[1\] "htp\/8080": unknown protocol 'htp'/],
    [['tcp/0'], /groups\.g\[0\] "tcp\/0": port must be 1-65535/],
    [['tcp/70000'], /port must be 1-65535/],
    [['http/8080'], /http needs a \/ after the port/],
    [['tcp'], /groups\.g\[0\] "tcp": not a check/],
    [['/5432'], /not a check/],
    [['script/nope'], /groups\.g\[0\] "script\/nope": no script 'nope' under scripts/],
    [['script/../x'], /expected script\/<name>/],
    [['spool/0'], /spool is not a probe/],
    // The same parser as agent_checks: a role the protocol does not know fails at start-up.
    [['postgres/5432/primry'], /groups\.g\[0\] "postgres\/5432\/primry": unknown postgres role "primry"/]
  ]
  for (const [members, message] of cases) {
    assert.throws(() => makeConfig({ groups: { g: members } }), (err: unknown) => hasCode(err, 'HC_ERR_CONFIG') && message.test(err.message), JSON.stringify(members))
  }
  assert.throws(() => makeConfig({ groups: { '..': ['tcp/1'] } }), /groups\.\.\.: not a group name/)
})

test('groups: the config shape is checked when loading (type errors name the key)', () => {
  assert.throws(() => makeConfig({ groups: { g: [] } }), /key 'groups' must be a mapping of group names/)
  assert.throws(() => makeConfig({ groups: { 'a/b': ['tcp/1'] } }), /key 'groups'/)
  assert.throws(() => makeConfig({ groups: { g: Array.from({ length: 65 }, () => 'tcp/1') } }), /key 'groups'/)
  assert.throws(() => makeConfig({ group_failure_code: 200 }), /key 'group_failure_code' must be an HTTP status 400-599/)
  assert.throws(() => makeConfig({ scripts: { zk: { command: [] } } }), /key 'scripts'/)
  assert.throws(() => makeConfig({ scripts: { zk: { command: 'x', timeout: 0 } } }), /key 'scripts'/)
  assert.throws(() => makeConfig({ scripts: { zk: { command: 'x', shell: true } } }), /key 'scripts'/)
  assert.throws(() => makeConfig({ http_status_root: '' }), /key 'http_status_root'/)
  const defaults = makeConfig()
  assert.deepEqual(defaults.groups, {})
  assert.equal(defaults.group_failure_code, 503)
  assert.deepEqual(defaults.scripts, {})
  assert.equal(defaults.http_status_root, null)
})
