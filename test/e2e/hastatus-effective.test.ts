/**
 * `hastatus` says what the daemon answers now: the server's lookup (`all`, the service, its
 * port; local files and fleet entries), with the source when it is not the service's own local
 * file, and how old the fleet's part is while etcd is away. Lines the reference would print the
 * same stay byte for byte the same.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { bin, runBin, tempDir, waitFor } from '../helper.js'
import { startEtcd } from '../etcd.js'
import { codeOf, converge, fleetStatusOf, startFleetHosts, toolConfig } from './fleet.js'

test('the first line per service is the lookup the server runs; the reference line where the own file answers', async (t) => {
  const root = await tempDir(t)
  const status = async (...args: string[]): Promise<[number | null, string]> => {
    const r = await runBin('hastatus', ['--spool-root', root, ...args])
    assert.equal(r.stderr, '')
    return [r.code, r.stdout]
  }
  await runBin('hadown', ['--spool-root', root, '-r', 'host work', 'all'])
  assert.deepEqual(await status('web', 'api'), [1, 'DOWN\tinf\tweb\thost work\tlocal\tall\nDOWN\tinf\tapi\thost work\tlocal\tall\n'])
  await runBin('hadown', ['--spool-root', root, '-r', 'own', 'web'])
  assert.deepEqual(await status('-P', '8080', 'web'), [1, 'DOWN\tinf\tweb::8080\thost work\tlocal\tall\n'])
  await runBin('haup', ['--spool-root', root, 'all'])
  assert.deepEqual(await status('web', 'api'), [1, 'DOWN\tinf\tweb\town\nUP\tapi\n'], 'the reference\'s lines, byte for byte')
  assert.deepEqual(await status('-P', '8080', 'web'), [1, 'DOWN\tinf\tweb::8080\town\tlocal\tweb\n'])
  // A drain of the whole host yields to a down of the service (endsLookup), and answers alone.
  await runBin('hadown', ['--spool-root', root, '--drain', '-r', 'draining', 'all'])
  assert.deepEqual(await status('web', 'api'), [1, 'DOWN\tinf\tweb\town\nDRAIN\tinf\tapi\tdraining\tlocal\tall\n'])
})

test('a spool the caller cannot read: hastatus gives hashowdowned\'s EACCES message, not a DOWN line', async (t) => {
  if (process.getuid?.() !== 0) { t.skip('needs root, to run the tools as nobody'); return }
  const root = join(await tempDir(t), 'spool')
  await runBin('hadown', ['--spool-root', root, '-r', 'x', 'web'])
  await chmod(dirname(root), 0o755)
  await chmod(root, 0o700)
  const asNobody = async (tool: string, args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => {
    // Under c8 the child would write its coverage into a directory nobody cannot write to, and
    // say so on stderr: it runs without coverage. Node copies NODE_V8_COVERAGE into a child's
    // environment unless the environment given names it, so it is set empty, not left out.
    const env = { ...process.env, NODE_V8_COVERAGE: '' }
    const child = spawn(process.execPath, [bin(tool), '--spool-root', root, ...args], { uid: 65534, gid: 65534, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += String(d) })
    child.stderr.on('data', (d) => { stderr += String(d) })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    return { code, stdout, stderr }
  }
  const message = `cannot read spool root ${root}: permission denied (EACCES): run the tool with sudo, or as the user the server runs as\n`
  assert.deepEqual(await asNobody('hashowdowned', []), { code: 1, stdout: '', stderr: `hashowdowned: ${message}` })
  assert.deepEqual(await asNobody('hastatus', ['web']), { code: 1, stdout: '', stderr: `hastatus: ${message}` })
})

test('a fleet down shows with its source; while etcd is away, the fleet state is "as of N seconds ago", not a bare UP', async (t) => {
  const etcd = await startEtcd(t)
  const [host] = await startFleetHosts(t, [etcd.clientUrl], ['h1'])
  if (host === undefined) throw new Error('no host')
  const tools = await toolConfig(t, [etcd.clientUrl])
  const since = performance.now()
  assert.equal((await runBin('hadown', ['-c', tools, '--fleet', '-r', 'fleet deploy', 'web'])).code, 0)
  await converge([host], 'web', () => 503, since, 5000)
  const snapshot = join(host.proc.spoolRoot, '@fleet', 'view.json')
  await waitFor(async () => (await readFile(snapshot, 'utf8').catch(() => '')).includes('fleet deploy') ? true : undefined, 5000, 'the @fleet snapshot')
  const status = async (): Promise<[number | null, string[]]> => {
    const r = await runBin('hastatus', ['--spool-root', host.proc.spoolRoot, '-p', String(host.proc.port), 'web', 'api'])
    assert.equal(r.stderr, '')
    return [r.code, r.stdout.split('\n')]
  }
  assert.deepEqual(await status(), [1, ['DOWN\tinf\tweb\tfleet deploy\tfleet\tweb', 'UP\tapi', '']])

  await etcd.kill()
  await waitFor(async () => (await fleetStatusOf(host)).connected ? undefined : true, 15000, 'the host to notice etcd is gone')
  const [code, lines] = await status()
  t.diagnostic(`during the outage: ${JSON.stringify(lines)}`)
  assert.equal(code, 1)
  assert.match(lines[0] as string, /^DOWN\tinf\tweb\tfleet deploy\tfleet\tweb\tfleet as of \d+s ago \(etcd unreachable\)$/)
  assert.match(lines[1] as string, /^UP\tapi\tfleet as of \d+s ago \(etcd unreachable\)$/)

  // With the host's own config (fleet named), the same first line, then the fleet tools' lines.
  const r = await runBin('hastatus', ['-c', join(dirname(host.proc.spoolRoot), 'hacheck.yaml'), '--spool-root', host.proc.spoolRoot, '-p', String(host.proc.port), 'web'])
  assert.equal(r.code, 1)
  assert.match(r.stdout, /^DOWN\tinf\tweb\tfleet deploy\tfleet\tweb\tfleet as of \d+s ago \(etcd unreachable\)\nFLEET\tstale\t/)

  // The daemon gone too: the snapshot is all there is, and the line says so.
  await host.proc.kill()
  const [, alone] = await status()
  assert.match(alone[0] as string, new RegExp(`^DOWN\tinf\tweb\tfleet deploy\tfleet\tweb\tfleet as of the @fleet snapshot written \\d+s ago \\(no hacheck answering on 127\\.0\\.0\\.1:${host.proc.port}\\)$`))
  assert.equal(await codeOf(host, 'web').catch(() => 0), 0, 'the daemon is down')
})
