/**
 * Restarts, reloads and crashes that no balancer notices (docs/operator-guide.md "Restarts and
 * upgrades"), against a real HAProxy 2.6 checking every 100 ms with `fall 1`, and a client
 * opening a fresh connection every 20 ms to each port:
 *
 * - socket activation: a launcher holds the sockets (as systemd does) and hacheck is stopped
 *   (SIGTERM) and started on them 10 times: no DOWN, no refused connection, HTTP and agent port;
 * - a plain restart without it (measured, for the docs: what it costs);
 * - `-n 2` and SIGUSR2, 10 times, one with an invalid config: no DOWN, the invalid one is
 *   logged and leaves the old config serving, a changed `cache_time` takes effect;
 * - `-n 2` and one worker killed: the other answers, no DOWN.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { freePort, HANG_MS, isAlive, ROOT, spawnHacheck, START_MS, tempDir, waitFor } from '../helper.js'
import { httpUpstream } from '../upstreams.js'
import { startHaproxy, type Haproxy } from './haproxy.js'
import { AGENT_POLL, HTTP_POLL, startPoller as poller, type PollCounts, type Poller } from './restart-poller.js'

type LogLine = Record<string, unknown>

/** HAProxy checking hacheck's HTTP port (and its agent port, when given) every 100 ms, `fall 1`. */
async function balancer (t: TestContext, httpPort: number, agentPort?: number): Promise<Haproxy> {
  const dummy = await freePort() // the servers' traffic address: never used, only checks run
  const sections = [
    'backend web',
    '  option httpchk GET /spool/web/0/',
    `  server web1 127.0.0.1:${dummy} check port ${httpPort} inter 100 fall 1 rise 1`
  ]
  if (agentPort !== undefined) {
    sections.push(
      'backend agent',
      '  mode tcp',
      '  option tcp-check',
      '  tcp-check send-binary 7765620a', // "web\n"
      '  tcp-check expect rstring up', // "up ..." or "ready up ..."
      `  server agent1 127.0.0.1:${dummy} check port ${agentPort} inter 100 fall 1 rise 1`)
  }
  const haproxy = await startHaproxy(t, sections.join('\n'))
  await haproxy.waitFor('web', 'web1', (row) => row.status === 'UP')
  if (agentPort !== undefined) await haproxy.waitFor('agent', 'agent1', (row) => row.status === 'UP')
  return haproxy
}

/** UP->DOWN transitions HAProxy counted for a server (`chkdown`), with its status. */
async function downs (haproxy: Haproxy, backend: string, server: string): Promise<{ chkdown: number, status: string }> {
  const row = await haproxy.server(backend, server)
  return { chkdown: Number(row.chkdown), status: `${row.status ?? ''}, last check ${row.check_status ?? ''} ${row.last_chk ?? ''}` }
}

/** A poller stopped after the test, whatever happens. */
function startPoller (t: TestContext, port: number, request: string): Poller {
  const p = poller(port, request)
  t.after(async () => { await p.stop() })
  return p
}

const show = (c: PollCounts): string => `${c.answered} answered, ${c.refused} refused, ${c.failed.length} failed${c.failed.length > 0 ? ` (${c.failed.slice(0, 3).join('; ')})` : ''}`

/** GET on a fresh connection. */
const getFresh = async (url: string): Promise<number> => await new Promise((resolve, reject) => {
  const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => { res.resume().on('end', () => { resolve(res.statusCode ?? 0) }) })
  req.on('error', reject)
  req.end()
})

test('socket activation: 10 restarts (SIGTERM, start again on the same sockets): HAProxy sees no DOWN, no connection is refused', async (t) => {
  const dir = await tempDir(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, 'cache_time: 0\n')
  const restarts = 10
  const launcher = spawn(process.execPath, [join(ROOT, 'dist', 'test', 'fixtures', 'socket-launcher.js'), '--runs', String(restarts + 1), '--',
    '-c', config, '--spool-root', join(dir, 'spool'), '-B', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  launcher.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  launcher.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  const logs = (): LogLine[] => err.split('\n').flatMap((line) => { try { return [JSON.parse(line) as LogLine] } catch { return [] } })
  const started = (): LogLine[] => logs().filter((l) => l.msg === 'hacheck started')
  t.after(() => {
    for (const line of started()) if (typeof line.pid === 'number' && isAlive(line.pid)) process.kill(line.pid, 'SIGKILL')
    if (launcher.exitCode === null) launcher.kill('SIGKILL')
  })
  const ports = await waitFor(async () => out.includes('\n') ? JSON.parse(out) as { http: number, agent: number } : undefined, HANG_MS, 'the launcher\'s sockets')
  await waitFor(async () => started().length >= 1 ? true : undefined, START_MS, `hacheck on the passed sockets; stderr: ${err}`)
  assert.equal(started()[0]?.socketActivation, true)

  const haproxy = await balancer(t, ports.http, ports.agent)
  const httpPoll = startPoller(t, ports.http, HTTP_POLL)
  const agentPoll = startPoller(t, ports.agent, AGENT_POLL)
  const gaps: number[] = []
  for (let i = 1; i <= restarts; i++) {
    const current = started()[i - 1]?.pid as number
    const before = httpPoll.counts().answered
    const signalled = performance.now()
    process.kill(current, 'SIGTERM')
    await waitFor(async () => started().length > i ? true : undefined, START_MS, `start ${i + 1}; stderr: ${err.slice(-2000)}`)
    gaps.push(performance.now() - signalled)
    // Let the balancer check the new process before the next restart.
    await waitFor(async () => httpPoll.counts().answered > before + 2 ? true : undefined, HANG_MS, 'answers from the new process')
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  const http = await httpPoll.stop()
  const agent = await agentPoll.stop()
  const web = await downs(haproxy, 'web', 'web1')
  const agentRow = await downs(haproxy, 'agent', 'agent1')
  t.diagnostic(`${restarts} restarts, SIGTERM to the next start-up line: median ${gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]?.toFixed(0)} ms, slowest ${gaps.at(-1)?.toFixed(0)} ms`)
  t.diagnostic(`HTTP poller: ${show(http)}; agent poller: ${show(agent)}`)
  t.diagnostic(`HAProxy chkdown: web ${web.chkdown} (${web.status}), agent ${agentRow.chkdown} (${agentRow.status})`)
  assert.deepEqual([web.chkdown, agentRow.chkdown], [0, 0], 'HAProxy saw no DOWN')
  assert.deepEqual([http.refused, agent.refused], [0, 0], 'no connection refused')
  assert.deepEqual([http.failed, agent.failed], [[], []], 'every connection answered')
  assert.ok(http.answered > 0 && agent.answered > 0)
})

test('without socket activation, a plain restart refuses connections (measured for the docs, not asserted)', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const args = ['-c', join(dir, 'none.yaml'), '--spool-root', join(dir, 'spool')]
  await writeFile(join(dir, 'none.yaml'), 'cache_time: 0\n')
  let h = await spawnHacheck(t, args, { ports: [port] })
  const haproxy = await balancer(t, port)
  const poll = startPoller(t, port, HTTP_POLL)
  const refusedMs: number[] = []
  for (let i = 0; i < 3; i++) {
    const before = poll.counts().refused
    h.child.kill('SIGTERM')
    await h.exited
    h = await spawnHacheck(t, args, { ports: [port] })
    refusedMs.push((poll.counts().refused - before) * 20)
    await haproxy.waitFor('web', 'web1', (row) => row.status === 'UP')
  }
  const counts = await poll.stop()
  const web = await downs(haproxy, 'web', 'web1')
  t.diagnostic(`plain restarts (SIGTERM, start again): refused for about ${refusedMs.join(', ')} ms (refused polls × 20 ms); poller: ${show(counts)}; HAProxy chkdown ${web.chkdown} over 3 restarts`)
})

test('-n 2: 10 reloads (SIGUSR2), one with an invalid config: no DOWN, the invalid one logged and the old config kept, cache_time applied', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const upstream = await httpUpstream(t)
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, 'cache_time: 600\n')
  const h = await spawnHacheck(t, ['-n', '2', '-c', config, '--spool-root', join(dir, 'spool')], { ports: [port] })
  await h.waitForLog((r) => r.msg === 'hacheck started')
  const haproxy = await balancer(t, port)
  const poll = startPoller(t, port, HTTP_POLL)
  const count = `http://127.0.0.1:${port}/http/web/${upstream.port}/count`
  const hits = (): number => upstream.hits.get('/count') ?? 0
  /** Upstream hits for 10 checks on fresh connections. */
  const probes = async (): Promise<number> => {
    const before = hits()
    for (let i = 0; i < 10; i++) assert.equal(await getFresh(count), 200)
    return hits() - before
  }
  await probes()
  const reloads = 10
  for (let i = 1; i <= reloads; i++) {
    const invalid = i === 5
    await writeFile(config, invalid ? 'cache_time: soon\n' : `cache_time: ${i === reloads ? 0 : 600 + i}\n`)
    const seen = h.logs().length
    h.child.kill('SIGUSR2')
    const outcome = await waitFor(async () => h.logs().slice(seen).find((r) => r.msg === 'reloaded' || String(r.msg).startsWith('reload refused')), HANG_MS, `reload ${i}: ${h.stderr().slice(-2000)}`)
    if (invalid) {
      assert.match(String(outcome.msg), /^reload refused, still serving with the previous config: config error in .*cache_time/)
      assert.ok((await probes()) <= 2, 'the old cache_time (600 s) still holds: each worker probes at most once')
    } else {
      assert.equal(outcome.msg, 'reloaded')
    }
  }
  assert.equal(await probes(), 10, 'cache_time 0 applies: every check probes')
  const counts = await poll.stop()
  const web = await downs(haproxy, 'web', 'web1')
  t.diagnostic(`${reloads} reloads: poller ${show(counts)}; HAProxy chkdown ${web.chkdown} (${web.status})`)
  assert.equal(web.chkdown, 0, 'HAProxy saw no DOWN')
  assert.equal(counts.refused, 0)
  assert.deepEqual(counts.failed, [])
  assert.equal(h.logs().filter((r) => String(r.msg).startsWith('reload refused')).length, 1)
})

test('-n 2: a worker killed, the other keeps answering: HAProxy sees no DOWN', async (t) => {
  const dir = await tempDir(t)
  const port = await freePort()
  const h = await spawnHacheck(t, ['-n', '2', '--spool-root', join(dir, 'spool')], { ports: [port] })
  const line = await h.waitForLog((r) => r.msg === 'hacheck started')
  const workers = line.workers as number[]
  const haproxy = await balancer(t, port)
  const poll = startPoller(t, port, HTTP_POLL)
  await new Promise((resolve) => setTimeout(resolve, 500))
  process.kill(workers[0] as number, 'SIGKILL')
  await h.waitForLog((r) => r.msg === 'worker started', HANG_MS, 'the replacement')
  await new Promise((resolve) => setTimeout(resolve, 500))
  const counts = await poll.stop()
  const web = await downs(haproxy, 'web', 'web1')
  t.diagnostic(`a worker killed: poller ${show(counts)}; HAProxy chkdown ${web.chkdown} (${web.status})`)
  assert.equal(web.chkdown, 0, 'HAProxy saw no DOWN')
  assert.equal(counts.refused, 0)
  assert.ok(isAlive(workers[1] as number))
})
