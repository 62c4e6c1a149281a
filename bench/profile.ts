/**
 * `npm run bench:profile -- <scenario>`: runs hacheck under `node --cpu-prof` while autocannon
 * loads one URL, then prints the functions with the most self time (and where the profile is).
 *
 * Scenarios: `spool` (/spool/svc/0/), `warm` (/http/ on a warm cache), `uncached` (/http/ with
 * cache_time 0 and `Pragma: no-cache`: one probe per request), `tcp` (the same for /tcp/),
 * `coalesced` (/http/ with cache_time 0 and no Pragma: concurrent requests share a probe).
 * Environment: BENCH_DURATION seconds (5), BENCH_CONNECTIONS (100).
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runLoad } from './lib/load.js'
import { canPin, freePort, pinSelf, startProcess, stopProcess } from './lib/procs.js'
import { startUpstream } from './lib/servers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** Self time per function (ms), largest first. */
function selfTimes (profile: Profile): Array<[string, number]> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const totals = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined) return
    const where = frame.url === '' ? '' : ` ${frame.url.replace(/^file:\/\//, '').replace(ROOT, '')}:${frame.lineNumber + 1}`
    const key = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${where}`
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  })
  return [...totals.entries()].sort((a, b) => b[1] - a[1])
}

async function main (): Promise<void> {
  const scenario = process.argv[2] ?? 'spool'
  const duration = Number(process.env.BENCH_DURATION ?? 5)
  const pin = availableParallelism() >= 2 && canPin()
  if (pin) pinSelf(0)
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-profile-'))
  const upstream = await startUpstream(dir, pin ? 0 : undefined)
  const probing = scenario === 'uncached' || scenario === 'tcp'
  const config = join(dir, 'hacheck.yaml')
  await writeFile(config, probing || scenario === 'coalesced' ? 'cache_time: 0\n' : 'cache_time: 3600\n')
  const port = await freePort()
  const hacheck = await startProcess({
    name: 'hacheck',
    args: ['--cpu-prof', '--cpu-prof-dir', dir, join(ROOT, 'bin', 'hacheck'), '-c', config, '--spool-root', join(dir, 'spool'), '-B', '127.0.0.1', '-p', String(port)],
    cpu: pin ? 1 : undefined,
    port,
    readyPath: '/status'
  })
  const path = scenario === 'spool' ? '/spool/svc/0/' : scenario === 'tcp' ? `/tcp/svc/${upstream.tcp}/` : `/http/svc/${upstream.http}/health`
  const sample = await runLoad({ url: `http://127.0.0.1:${port}${path}`, connections: Number(process.env.BENCH_CONNECTIONS ?? 100), duration, serverPid: hacheck.pid, ...(probing ? { headers: { pragma: 'no-cache' } } : {}) })
  await stopProcess(hacheck)
  await stopProcess(upstream.proc)
  const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`no profile written in ${dir}`)
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as Profile
  const times = selfTimes(profile)
  const total = times.reduce((sum, [, ms]) => sum + ms, 0)
  process.stdout.write(`${scenario}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99.toFixed(2)} ms, server CPU ${Math.round(sample.serverCpu * 100)}%\n`)
  process.stdout.write(`profile: ${join(dir, file)} (open in Chrome DevTools)\nself time, top 25:\n`)
  for (const [name, ms] of times.slice(0, 25)) process.stdout.write(`${(100 * ms / total).toFixed(1).padStart(5)}%  ${name}\n`)
}

await main()
