/**
 * The README quick start, as a new user runs it: in a fresh copy of the checkout, the server
 * started exactly as `npm start` starts it, then, "from another shell in the checkout", every
 * line of the README block as written (no extra flags, no environment), each with the answer
 * its comment promises. The lines are read from README.md, so the README cannot drift from
 * what is tested. Ports are the only substitution: 3333 and 8080 become free ones.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ROOT, freePort, waitFor, type RunResult } from '../helper.js'
import { copyCheckout, runIn, userEnv } from './checkout.js'

/** The shell blocks of README's "Set up" section, in order. */
async function setUpBlocks (): Promise<string[][]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Set up\n'), readme.indexOf('\n### ', readme.indexOf('## Set up\n')))
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => (m[1] as string).split('\n').filter((l) => l.trim() !== ''))
}

/** A line without its trailing comment (two spaces or more, then #). */
const commandOf = (line: string): string => line.replace(/\s{2,}#.*$/, '').trim()

/** An HTTP response as `curl -i` prints it. */
function curlResponse (r: RunResult): { status: number, body: string } {
  assert.equal(r.code, 0, r.stderr)
  const end = r.stdout.indexOf('\r\n\r\n')
  return { status: Number(/^HTTP\/[0-9.]+ ([0-9]{3})/.exec(r.stdout)?.[1]), body: r.stdout.slice(end + 4) }
}

async function listenHealth (t: TestContext, port: number): Promise<void> {
  const server: Server = createServer((req, res) => { res.writeHead(req.url === '/health' ? 200 : 404).end(req.url === '/health' ? 'healthy\n' : '') })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.after(() => { server.close() })
}

test('README quick start: npm start, then every line in another shell, as written', { timeout: 120000 }, async (t) => {
  const [setUp, lines] = await setUpBlocks()
  assert.deepEqual(setUp, ['npm ci && npm start'])
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  assert.equal(pkg.scripts.start, 'bin/hacheck -c config/dev.yaml -B 127.0.0.1 -p 3333', 'npm start is one command, run below')

  // What each line must answer, in README order; the README lines must be exactly these.
  const expected: Array<[string, (r: RunResult) => void]> = [
    ['curl -i localhost:3333/spool/web/0/', (r) => { assert.deepEqual(curlResponse(r), { status: 200, body: '' }) }],
    ['curl -i localhost:3333/http/web/8080/health', (r) => {
      const { status, body } = curlResponse(r)
      assert.equal(status, 503)
      assert.match(body, /Connection refused/)
    }],
    ["curl -i -H 'Pragma: no-cache' localhost:3333/http/web/8080/health", (r) => { assert.deepEqual(curlResponse(r), { status: 200, body: 'healthy\n' }) }],
    ['curl -i localhost:3333/mysql/db/3306/', (r) => {
      const { status, body } = curlResponse(r)
      assert.equal(status, 200, body)
      assert.match(body, /^MySQL connect response: /)
    }],
    ['curl -i localhost:3333/postgres/db/5432/', (r) => {
      const { status, body } = curlResponse(r)
      assert.equal(status, 200, body)
      assert.match(body, /login root@postgres \(PostgreSQL [0-9.]+\)$/)
    }],
    ['bin/hadown -r maintenance web', (r) => { assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']) }],
    ['curl -i localhost:3333/spool/web/0/', (r) => {
      const { status, body } = curlResponse(r)
      assert.equal(status, 503)
      assert.match(body, /^Service web in down state since [0-9]+\.[0-9]{6}: maintenance$/)
    }],
    ['bin/hastatus web', (r) => { assert.deepEqual([r.code, r.stdout, r.stderr], [1, 'DOWN\tinf\tweb\tmaintenance\n', '']) }],
    ['bin/haup web', (r) => { assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']) }],
    ['bin/hadown -r deploy -e +30m web', (r) => { assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']) }],
    ['bin/hashowdowned', (r) => {
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^DOWN\t[0-9]+\.[0-9]{6}\tweb\tdeploy\n$/)
    }]
  ]
  assert.deepEqual(lines?.map(commandOf), expected.map(([line]) => line), 'README quick-start lines')

  // A fresh clone, built (npm ci + the prestart build), with no spool yet.
  const clone = await copyCheckout(t, { built: true })
  const port = await freePort()
  const upstream = await freePort()
  const subst = (text: string): string => text.replaceAll('3333', String(port)).replaceAll('8080', String(upstream))

  // As npm runs a script: `sh -c <script>`, in the package root. In its own process group, so
  // the server under the shell is stopped with it.
  const server = spawn('sh', ['-c', subst(pkg.scripts.start)], { cwd: clone, env: userEnv(), stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  let serverLog = ''
  server.stderr.setEncoding('utf8').on('data', (d: string) => { serverLog += d })
  t.after(() => { try { process.kill(-(server.pid as number), 'SIGKILL') } catch {} })
  await waitFor(async () => {
    if (server.exitCode !== null) throw new Error(`npm start's server exited ${server.exitCode}: ${serverLog}`)
    return (await fetch(`http://127.0.0.1:${port}/status`)).ok ? true : undefined
  }, 20000, `the server on ${port}; log: ${serverLog}`)

  for (const [line, check] of expected) {
    if (line.includes('Pragma')) {
      // Something now answers on 8080, but the failure above is reused for cache_time...
      await listenHealth(t, upstream)
      const cached = curlResponse(await runIn(clone, 'sh', ['-c', subst('curl -i localhost:3333/http/web/8080/health')]))
      assert.equal(cached.status, 503, 'a failure is cached for cache_time')
    }
    const r = await runIn(clone, 'sh', ['-c', subst(line)], { timeoutMs: 30000 })
    check(r)
  }
  // The tools used the server's spool: the checkout's ./spool, as npm start serves it.
  assert.match(serverLog, new RegExp(`"spoolRoot":"${join(clone, 'spool')}"`))
})
