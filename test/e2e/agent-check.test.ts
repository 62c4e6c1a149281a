/**
 * HAProxy 2.6 (Debian) against the built `bin/hacheck` with `--agent-port`, driven by the real
 * spool tools. Three backends on the same server show what each mechanism does on its own and
 * together:
 * - `web`: `option httpchk` + `http-check disable-on-404` + `agent-check` (the README setup);
 * - `httponly`: the HTTP check alone (drain reaches HAProxy only as a 404);
 * - `agentonly`: a plain connect check plus `agent-check` (admin states only from the agent).
 * Values asserted are the ones HAProxy 2.6.12 reports; the test prints the seconds each change
 * took to land (well under a second on an idle machine; waits are bounded only against a hang).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test, type TestContext } from 'node:test'
import { bin, freePort, runBin, START_MS, tempDir, waitFor } from '../helper.js'
import { httpUpstream } from '../upstreams.js'
import { SRV_ADMF, startHaproxy, type Haproxy, type StatRow } from './haproxy.js'

/** The built hacheck as a process on `port`, with the agent on `agentPort`. */
async function startHacheck (t: TestContext, port: number, agentPort: number, spoolRoot: string): Promise<void> {
  const child = spawn(process.execPath, [bin('hacheck'), '-B', '127.0.0.1', '-p', String(port), '--agent-port', String(agentPort), '--spool-root', spoolRoot], {
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  t.after(() => { child.kill('SIGKILL') })
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`hacheck exited ${child.exitCode}: ${stderr}`)
    return (await fetch(`http://127.0.0.1:${port}/status`)).ok ? true : undefined
  }, START_MS, 'hacheck to listen')
}

type Expect = Record<string, (row: StatRow) => boolean>

/** `check_status` without the `* ` HAProxy prefixes while a check is running. */
const checkStatus = (row: StatRow): string => (row.check_status ?? '').replace(/^\* /, '')
const adminState = async (haproxy: Haproxy, backend: string): Promise<number> => Number((await haproxy.serverState(backend, 'web1')).srv_admin_state)

test('HAProxy follows hadown --drain/--maint, haup and haweight via agent-check and disable-on-404', async (t) => {
  const web = await httpUpstream(t)
  const root = await tempDir(t)
  const port = await freePort()
  const agentPort = await freePort()
  await startHacheck(t, port, agentPort, root)
  const agent = `agent-check agent-port ${agentPort} agent-send "web\\n" agent-inter 200`
  const haproxy = await startHaproxy(t, [
    'backend web',
    '  option httpchk GET /spool/web/0/',
    '  http-check disable-on-404',
    `  server web1 127.0.0.1:${web.port} weight 100 check port ${port} inter 100 fall 1 rise 1 ${agent}`,
    'backend httponly',
    '  option httpchk GET /spool/web/0/',
    '  http-check disable-on-404',
    `  server web1 127.0.0.1:${web.port} weight 100 check port ${port} inter 100 fall 1 rise 1`,
    'backend agentonly',
    `  server web1 127.0.0.1:${web.port} weight 100 check inter 100 fall 1 rise 1 ${agent}`
  ].join('\n'))

  const timings: Record<string, number> = {}
  /** Runs a tool, then waits until every backend matches; records the seconds it took. */
  const step = async (label: string, tool: string, args: string[], expect: Expect): Promise<void> => {
    const r = await runBin(tool, ['--spool-root', root, ...args])
    assert.equal(r.code, 0, `${tool} ${args.join(' ')}: ${r.stderr}`)
    const started = Date.now()
    for (const [backend, predicate] of Object.entries(expect)) await haproxy.waitFor(backend, 'web1', predicate)
    timings[label] = (Date.now() - started) / 1000
  }
  const upByAgent = (row: StatRow): boolean => row.status === 'UP' && row.agent_status === 'L7OK' && row.last_agt === 'via agent : up'

  await haproxy.waitFor('web', 'web1', upByAgent)
  await haproxy.waitFor('agentonly', 'web1', upByAgent)

  // drain: the agent sets the admin DRAIN flag; the 404 soft-stops the HTTP check (NOLB), and
  // HAProxy's status column shows NOLB when both apply, DRAIN (agent) when only the agent does.
  await step('drain', 'hadown', ['--drain', '-r', 'deploy', 'web'], {
    web: (row) => row.status === 'NOLB' && checkStatus(row) === 'L7OKC' && /^via agent : up \(Service web in drain state since [0-9.]+: deploy\)$/.test(row.last_agt ?? ''),
    httponly: (row) => row.status === 'NOLB' && checkStatus(row) === 'L7OKC',
    agentonly: (row) => row.status === 'DRAIN (agent)'
  })
  assert.equal(await adminState(haproxy, 'web') & SRV_ADMF.FDRAIN, SRV_ADMF.FDRAIN)
  assert.equal(await adminState(haproxy, 'agentonly'), SRV_ADMF.FDRAIN)
  assert.equal(await adminState(haproxy, 'httponly'), 0, 'without the agent, drain is only the 404')

  // maint: an admin MAINT with the reason in the agent's description; the HTTP check alone
  // can only say DOWN (503).
  await step('maint', 'hadown', ['--maint', '-r', 'kernel', 'web'], {
    web: (row) => row.status === 'MAINT' && /^via agent : stopped \(Service web in maint state since [0-9.]+: kernel\)$/.test(row.last_agt ?? ''),
    httponly: (row) => row.status === 'DOWN' && checkStatus(row) === 'L7STS',
    agentonly: (row) => row.status === 'MAINT'
  })
  assert.equal(await adminState(haproxy, 'web'), SRV_ADMF.FMAINT)

  await step('haup', 'haup', ['web'], { web: upByAgent, httponly: (row) => row.status === 'UP', agentonly: upByAgent })
  assert.equal(await adminState(haproxy, 'web'), 0, 'ready clears the admin state the agent set')

  // weight: a percentage of the configured weight 100.
  await step('weight 50', 'haweight', ['web', '50'], {
    web: (row) => row.weight === '50' && row.status === 'UP',
    agentonly: (row) => row.weight === '50'
  })
  assert.equal((await haproxy.serverState('web', 'web1')).srv_uweight, '50')
  assert.equal((await haproxy.server('httponly', 'web1')).weight, '100', 'only the agent carries weights')
  await step('weight 100', 'haweight', ['web', '100'], { web: (row) => row.weight === '100', agentonly: (row) => row.weight === '100' })

  // A plain hadown is an operational DOWN, as before, now with the reason in HAProxy.
  await step('down', 'hadown', ['-r', 'broken', 'web'], {
    web: (row) => row.status === 'DOWN (agent)' && /^via agent : down \(Service web in down state since [0-9.]+: broken\)$/.test(row.last_agt ?? ''),
    httponly: (row) => row.status === 'DOWN',
    agentonly: (row) => row.status === 'DOWN (agent)'
  })
  await step('haup again', 'haup', ['web'], { web: upByAgent, httponly: (row) => row.status === 'UP', agentonly: upByAgent })

  t.diagnostic(`seconds from the tool's exit to HAProxy's stats: ${JSON.stringify(timings)}`)
})
