/**
 * One client's forwarded headers never change the answer other clients get (issue 10, item 1):
 * every header a probe forwards (`http_headers_to_copy`, `service_name_header`) is part of the
 * cache key, tested against an upstream that answers by Host.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../helper.js'
import { httpUpstream } from '../upstreams.js'

/** An upstream that validates Host, as Django's ALLOWED_HOSTS or an nginx virtual host does. */
async function hostCheckingUpstream (t: Parameters<typeof httpUpstream>[0]): Promise<number> {
  const up = await httpUpstream(t, {
    '/vhost': (req, res) => {
      if (req.headers.host === 'web.internal') res.end('ok')
      else res.writeHead(400).end(`bad host ${String(req.headers.host)}`)
    }
  })
  return up.port
}

test('a client Host with Pragma: no-cache cannot poison what other clients are told', async (t) => {
  const port = await hostCheckingUpstream(t)
  const { app } = await buildTestApp(t)
  const url = `/http/web/${port}/vhost`
  const legit = { host: 'web.internal' }
  assert.equal((await app.inject({ url, headers: legit })).statusCode, 200)
  const attack = await app.inject({ url, headers: { host: 'x.invalid', pragma: 'no-cache' } })
  assert.deepEqual([attack.statusCode, attack.body], [400, 'bad host x.invalid'], 'the attacker gets its own answer')
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ url, headers: legit })
    assert.deepEqual([res.statusCode, res.body], [200, 'ok'], 'the balancer still gets the answer for its Host')
  }
})

test('an attacker first on a cold key does not decide the answer either', async (t) => {
  const port = await hostCheckingUpstream(t)
  const { app } = await buildTestApp(t)
  const url = `/http/web/${port}/vhost`
  assert.equal((await app.inject({ url, headers: { host: 'x.invalid' } })).statusCode, 400)
  assert.equal((await app.inject({ url, headers: { host: 'web.internal' } })).statusCode, 200)
})

test('service_name_header and http_headers_to_copy values are part of the key', async (t) => {
  const up = await httpUpstream(t, { '/who': (req, res) => { res.end(`${String(req.headers['x-service'])} ${String(req.headers['x-tenant'])}`) } })
  const { app } = await buildTestApp(t, { service_name_header: 'X-Service', http_headers_to_copy: ['Host', 'X-Tenant'] })
  const get = async (service: string, tenant: string): Promise<string> =>
    (await app.inject({ url: `/http/${service}/${up.port}/who`, headers: { 'x-tenant': tenant } })).body
  assert.equal(await get('a', 't1'), 'a t1')
  assert.equal(await get('b', 't1'), 'b t1')
  assert.equal(await get('a', 't2'), 'a t2')
  assert.equal(await get('a', 't1'), 'a t1')
  assert.equal(up.requests(), 3, 'the repeat came from the cache')
})
