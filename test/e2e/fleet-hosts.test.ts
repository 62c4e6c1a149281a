/**
 * Three "hosts" on one etcd member: three built `bin/hacheck` processes, each with its own
 * local spool and `fleet_host_name`, and the tools as an operator runs them (the built programs
 * for the first step and the last; the same `main` in this process for the others, which keeps
 * the test short). Each step must show on every host it concerns (and nowhere else); the test
 * prints how long each took after the tool returned.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import { startEtcd } from '../etcd.js'
import { runTool } from '../cli/run-tool.js'
import { runBin } from '../helper.js'
import { converge, startFleetHosts, toolConfig, WITHIN_MS, type FleetHost } from './fleet.js'

test('three hosts on one etcd: --fleet reaches all, --fleet-host one, expiry, and local hadown beside it', async (t) => {
  const etcd = await startEtcd(t)
  const hosts = await startFleetHosts(t, [etcd.clientUrl], ['web01', 'web02', 'web03'])
  const config = await toolConfig(t, [etcd.clientUrl])
  const all = (code: number) => () => code
  /** Runs a built tool, then waits for `service` to answer `want` on every host; reports the time. */
  let built = true // the first step runs the built program
  const step = async (name: string, tool: string, args: string[], service: string, want: (h: FleetHost) => number): Promise<void> => {
    const r = built ? await runBin(tool, ['-c', config, ...args]) : await runTool(tool, ['-c', config, ...args])
    built = false
    assert.equal(r.code, 0, `${tool} ${args.join(' ')}: ${r.stderr}`)
    const ms = await converge(hosts, service, want, performance.now())
    t.diagnostic(`${name}: every host answered as expected ${ms.toFixed(0)} ms after the tool returned`)
  }

  for (const h of hosts) {
    const fleet = (await (await fetch(h.proc.url('/status'))).json() as { fleet: Record<string, unknown> }).fleet
    assert.equal(fleet.connected, true)
    assert.equal(fleet.host, h.name)
  }
  await step('hadown --fleet web', 'hadown', ['--fleet', '-r', 'deploy 42', 'web'], 'web', all(503))
  const body = await (await fetch(hosts[1]?.proc.url('/spool/web/0/') ?? '')).text()
  assert.match(body, /^Service web in down state since \d+\.\d{6}: deploy 42$/)
  await step('hadown --fleet-host web02 api', 'hadown', ['--fleet-host', 'web02', '-r', 'bad disk', 'api'], 'api', (h) => h.name === 'web02' ? 503 : 200)
  await step('haup --fleet web', 'haup', ['--fleet', 'web'], 'web', all(200))
  await step('haup --fleet-host web02 api', 'haup', ['--fleet-host', 'web02', 'api'], 'api', all(200))

  // Long enough for every host to show the down first, on a busy machine too.
  const expiration = Math.ceil(Date.now() / 1000) + 6
  await step('hadown --fleet -e <in 6 s> cache', 'hadown', ['--fleet', '-r', 'brief', '-e', String(expiration), 'cache'], 'cache', all(503))
  const untilExpiry = expiration * 1000 - Date.now()
  const ms = await converge(hosts, 'cache', all(200), performance.now(), untilExpiry + WITHIN_MS)
  t.diagnostic(`the expiry was honoured ${(ms - untilExpiry).toFixed(0)} ms after it passed`)

  // Local hadown on web01 beside fleet entries: each source is cleared by its own tool.
  const web01 = hosts[0] as FleetHost
  const local = (tool: string, ...args: string[]) => async () => { assert.equal((await runTool(tool, ['--spool-root', web01.proc.spoolRoot, ...args])).code, 0) }
  await local('hadown', '-r', 'local', 'db')()
  await converge(hosts, 'db', (h) => h === web01 ? 503 : 200, performance.now())
  await step('hadown --fleet db', 'hadown', ['--fleet', '-r', 'fleet', 'db'], 'db', all(503))
  await step('haup --fleet db: web01 stays down by its local file', 'haup', ['--fleet', 'db'], 'db', (h) => h === web01 ? 503 : 200)
  await local('haup', 'db')()
  await converge(hosts, 'db', all(200), performance.now())

  const r = await runBin('hastatus', ['-c', config, '-p', String(web01.proc.port), '--spool-root', web01.proc.spoolRoot, 'db'])
  assert.deepEqual([r.code, r.stdout.split('\n').slice(-2)], [0, [`FLEET\tcurrent\trevision ${r.stdout.match(/revision (\d+)/)?.[1] ?? '?'}`, '']], `${r.stdout}${r.stderr}`)
})
