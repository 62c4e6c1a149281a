import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CheckGuard, NAME_TTL_MS, classifyAddress } from '../../src/checks/check-guard.js'
import { AllowList, parseCidr } from '../../src/cidr.js'
import { DEFAULT_CHECK_NETWORKS } from '../../src/config/index.js'

// Addresses outside loopback appear here only as data: nothing in this file connects anywhere.
const defaults = (lookup?: (host: string) => Promise<string>): CheckGuard =>
  new CheckGuard({ networks: DEFAULT_CHECK_NETWORKS, timeoutMs: 200, lookup })

test('parseCidr: networks, bare addresses, brackets; bad prefixes and names are null', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' })
  assert.deepEqual(parseCidr('10.1.2.3'), { address: '10.1.2.3', prefix: 32, family: 'ipv4' })
  assert.deepEqual(parseCidr('[fc00::]/7'), { address: 'fc00::', prefix: 7, family: 'ipv6' })
  assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' })
  for (const bad of ['10.0.0.0/33', '::/129', 'host/8', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/1.5', '']) {
    assert.equal(parseCidr(bad), null, bad)
  }
  assert.throws(() => new AllowList(['nope']), /not a CIDR network: "nope"/)
})

test('classifyAddress names what each range is', () => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'], ['127.8.9.10', 'loopback'], ['::1', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'], ['fd12:3456::1', 'unique-local'],
    ['169.254.169.254', 'cloud-metadata'], ['fd00:ec2::254', 'cloud-metadata'],
    ['169.254.1.1', 'link-local'], ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'], ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'],
    ['8.8.8.8', 'public'], ['172.32.0.1', 'public'], ['2001:4860:4860::8888', 'public'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:169.254.169.254', 'cloud-metadata'],
    ['100.100.100.200', 'cloud-metadata'], ['fd00:ec2::23', 'cloud-metadata'], ['169.254.170.2', 'cloud-metadata']
  ]
  for (const [address, kind] of cases) assert.equal(classifyAddress(address), kind, address)
  assert.throws(() => classifyAddress('example.com'), /not an IP address/)
})

test('default policy: loopback, RFC 1918, 100.64/10 and ULA allowed; metadata, link-local, public refused', async () => {
  const guard = defaults()
  for (const ok of ['127.0.0.1', '127.0.0.2', '::1', '10.0.0.5', '172.20.1.1', '192.168.0.10', '100.100.1.1', 'fd00::5', '::ffff:10.0.0.5']) {
    assert.deepEqual(await guard.check(ok), { allowed: true, address: ok }, ok)
  }
  for (const [refused, kind] of [
    ['169.254.10.10', 'a link local'], ['fe80::1', 'a link local'],
    ['fe80::1%eth0', 'a scoped'], ['8.8.8.8', 'a public'], ['1.1.1.1', 'a public'], ['2606:4700::1111', 'a public'],
    ['0.0.0.0', 'an unspecified'], ['::', 'an unspecified']
  ]) {
    const decision = await guard.check(refused as string)
    assert.equal(decision.allowed, false, refused)
    assert.ok(!decision.allowed)
    assert.equal(decision.status, 403)
    assert.equal(decision.message, `check target ${refused} is not allowed: ${kind} address outside allowed_check_networks`)
  }
})

test('a network listed explicitly is allowed, and only that one', async () => {
  const guard = new CheckGuard({ networks: ['169.254.1.0/24', '203.0.113.0/24'], timeoutMs: 200 })
  assert.equal((await guard.check('169.254.1.9')).allowed, true)
  assert.equal((await guard.check('203.0.113.9')).allowed, true)
  assert.equal((await guard.check('169.254.2.1')).allowed, false)
  assert.equal((await guard.check('127.0.0.1')).allowed, false, 'loopback is only allowed when listed')
})

test('a host name is resolved once and its address checked and returned', async () => {
  const asked: string[] = []
  const lookup = async (host: string): Promise<string> => {
    asked.push(host)
    return ({ 'db.internal': '10.0.0.7', 'evil.example': '169.254.169.254', 'pub.example': '93.184.216.34' } as Record<string, string>)[host] ??
      await Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }))
  }
  const guard = defaults(lookup)
  assert.deepEqual(await guard.check('db.internal'), { allowed: true, address: '10.0.0.7' })
  assert.deepEqual(await guard.check('evil.example'), {
    allowed: false, status: 403, message: 'check target evil.example (169.254.169.254) is not allowed: a cloud metadata address, refused whatever allowed_check_networks says'
  })
  assert.equal((await guard.check('pub.example')).allowed, false)
  assert.deepEqual(await guard.check('nxdomain.example'), { allowed: false, status: 503, message: 'cannot resolve check target nxdomain.example: ENOTFOUND' })
  assert.deepEqual(asked, ['db.internal', 'evil.example', 'pub.example', 'nxdomain.example'])
  assert.deepEqual(await guard.check('10.0.0.7'), { allowed: true, address: '10.0.0.7' })
  assert.equal(asked.length, 4, 'an IP literal is not looked up')
})

test('a resolved name is used for NAME_TTL_MS, concurrent checks share one lookup, failures are not remembered', async () => {
  const asked: string[] = []
  let failing = true
  const lookup = async (host: string): Promise<string> => {
    asked.push(host)
    await new Promise((resolve) => setTimeout(resolve, 10))
    if (host === 'flaky.internal' && failing) throw Object.assign(new Error('try again'), { code: 'EAI_AGAIN' })
    return '10.0.0.7'
  }
  let clock = 0
  const guard = new CheckGuard({ networks: DEFAULT_CHECK_NETWORKS, timeoutMs: 200, lookup, nowMs: () => clock })
  const together = await Promise.all(Array.from({ length: 50 }, async () => await guard.check('db.internal')))
  assert.ok(together.every((d) => d.allowed && d.address === '10.0.0.7'))
  assert.deepEqual(asked, ['db.internal'], '50 concurrent checks, one lookup')
  clock += NAME_TTL_MS - 1
  await guard.check('db.internal')
  assert.equal(asked.length, 1, 'still fresh: no lookup (a cache hit costs no DNS query)')
  clock += 2
  await guard.check('db.internal')
  assert.equal(asked.length, 2, 'expired: looked up again')
  assert.equal((await guard.check('flaky.internal')).allowed, false)
  failing = false
  assert.equal((await guard.check('flaky.internal')).allowed, true, 'a failed resolution is retried at once')
  assert.deepEqual(asked.slice(2), ['flaky.internal', 'flaky.internal'])
})

test('a name resolution that hangs is bounded by the timeout: 503', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const guard = defaults(async () => await new Promise<string>(() => {}))
  let settled = false
  const pending = guard.check('slow.example').finally(() => { settled = true })
  t.mock.timers.tick(199)
  await new Promise(setImmediate)
  assert.equal(settled, false, 'still waiting 1 ms before the timeout')
  t.mock.timers.tick(1)
  assert.deepEqual(await pending, { allowed: false, status: 503, message: 'cannot resolve check target slow.example: no answer in 200ms' })
})

test('the system resolver is used by default (localhost resolves to loopback)', async () => {
  const decision = await new CheckGuard({ networks: DEFAULT_CHECK_NETWORKS, timeoutMs: 2000 }).check('localhost')
  assert.ok(decision.allowed)
  assert.match(decision.address, /^(127\.|::1$)/)
})

test('cloud metadata and link-local service addresses are refused even when allowed_check_networks lists them', async () => {
  const everything = new CheckGuard({ networks: ['0.0.0.0/0', '::/0'], timeoutMs: 200 })
  for (const address of [
    '169.254.169.254', '169.254.169.253', '169.254.169.123', '169.254.170.2', '169.254.170.23', '169.254.0.23',
    '100.100.100.200', '168.63.129.16', 'fd00:ec2::254', 'fd00:ec2::253', 'fd00:ec2::123', 'fd00:ec2::23',
    '::ffff:169.254.169.254', '::ffff:100.100.100.200', '64:ff9b::169.254.169.254', '64:ff9b::100.100.100.200'
  ]) {
    const decision = await everything.check(address)
    assert.deepEqual(decision, { allowed: false, status: 403, message: `check target ${address} is not allowed: a cloud metadata address, refused whatever allowed_check_networks says` }, address)
    assert.equal((await defaults().check(address)).allowed, false, `${address} (default networks)`)
  }
  assert.equal((await everything.check('169.254.1.1')).allowed, true, 'other link-local addresses follow the allow-list')
  assert.equal((await everything.check('fd00:ec3::254')).allowed, true)
})
