/**
 * `npm run bench:load-weight`: what load weights cost (docs/operator-guide.md "Load weights").
 *
 * 1. Sampling, in this process: a sampler for 100 services of which 20 have a cgroup of their
 *    own, reading cpu, memory and io (21 scopes x 3 files = 63 reads a round), run for ROUNDS
 *    rounds; CPU per round (`process.cpuUsage`), hence CPU per second at the default interval
 *    (2 s). Once on fixture files in a temp directory, once on the kernel's own files
 *    (`/proc/pressure` and, for the 20 cgroups, `/sys/fs/cgroup/unified` or `/sys/fs/cgroup`,
 *    whichever holds `cpu.pressure`), and the cost of a weight lookup (what an agent reply adds).
 *    Then the longest event-loop delay while a sampler of 20, and of 256 (the most allowed),
 *    cgroups reads every 100 ms, against the same time without one.
 * 2. Idle: two built `bin/hacheck` processes side by side, load weights on (the same 20 cgroups,
 *    default interval) and off, doing nothing for IDLE seconds; their CPU from /proc.
 * 3. Throughput: the same two processes (pinned to CPU 1 when possible, the driver to CPU 0),
 *    in alternating rounds: the agent port (50 connections, each asking `<service>\n` for the
 *    next of the 100 services, as HAProxy asks) and the `/spool/` route (autocannon, 50
 *    connections, spread over the 100 services), on and off. Medians.
 *
 * Environment: BENCH_ROUNDS (5) and BENCH_DURATION (3 s) for throughput, BENCH_IDLE (30 s),
 * BENCH_SAMPLES (2000) sampler rounds, BENCH_PIN=0 to leave placement to the scheduler.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { makeConfig } from '../src/config/index.js'
import { LoadSampler, SCOPES_PER_TURN } from '../src/ops/load-weight.js'
import { runAgentLoad, type AgentSample } from './lib/agent-load.js'
import { envInt } from './lib/env.js'
import { runLoad, type Sample } from './lib/load.js'
import { canPin, cpuSeconds, freePort, pinSelf, stopProcess, type ServerProcess } from './lib/procs.js'
import { median } from './lib/report.js'
import { machine, writeResults } from './lib/results.js'
import { ROOT, startHacheck } from './lib/servers.js'

const SERVICES = Array.from({ length: 100 }, (_, i) => `svc${i}`)
const CGROUP_SERVICES = SERVICES.slice(0, 20)
const RESOURCES = ['cpu', 'memory', 'io'] as const
const SAMPLES = envInt('BENCH_SAMPLES', 2000)
const IDLE = envInt('BENCH_IDLE', 30)
const ROUNDS = envInt('BENCH_ROUNDS', 5)
const DURATION = envInt('BENCH_DURATION', 3)
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && canPin()
const DEFAULT_INTERVAL_S = 2

const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const pressure = (p: number): string => `some avg10=${p.toFixed(2)} avg60=${p.toFixed(2)} avg300=${p.toFixed(2)} total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`

/** The kernel's cgroup v2 directory with pressure files, if this machine has one. */
function kernelCgroup (): string | undefined {
  return ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((dir) => existsSync(join(dir, 'cpu.pressure')))
}

interface SamplingCost { label: string, usPerRound: number, usPerRead: number, unusable: number, nsPerLookup: number }

function samplingCost (label: string, pressureRoot: string, cgroupOf: (service: string) => string): SamplingCost {
  const settings = makeConfig({
    load_weight_sources: [...RESOURCES],
    pressure_root: pressureRoot,
    load_weight_cgroups: Object.fromEntries(CGROUP_SERVICES.map((s) => [s, cgroupOf(s)]))
  }).loadWeight
  if (settings === null) throw new Error('load weights are off')
  const sampler = new LoadSampler({ settings })
  for (let i = 0; i < 100; i++) sampler.sample()
  const before = process.cpuUsage()
  for (let i = 0; i < SAMPLES; i++) sampler.sample()
  const cpu = process.cpuUsage(before)
  const usPerRound = (cpu.user + cpu.system) / SAMPLES
  const unusable = sampler.scopes().flatMap((s) => s.inputs).filter((i) => i.some === null).length
  const lookups = 1_000_000
  let sink = 0
  const started = process.hrtime.bigint()
  for (let i = 0; i < lookups; i++) sink += sampler.weight(SERVICES[i % SERVICES.length] as string) ?? 0
  const nsPerLookup = Number(process.hrtime.bigint() - started) / lookups
  if (sink < 0) log('unreachable')
  return { label, usPerRound, usPerRead: usPerRound / ((CGROUP_SERVICES.length + 1) * RESOURCES.length), unusable, nsPerLookup }
}

interface LoopBlock { cgroups: number, withSampler: number, without: number }

/** The event loop's p99 and max delay over `seconds`, with a sampler of `cgroups` cgroups reading every 100 ms, and without. */
async function loopBlock (dir: string, cgroups: number, seconds: number): Promise<LoopBlock> {
  const root = join(dir, 'pressure')
  const names = Array.from({ length: cgroups }, (_, i) => `svc${i}`)
  await mkdir(root, { recursive: true })
  for (const r of RESOURCES) await writeFile(join(root, r), pressure(12.5))
  for (const s of names) {
    await mkdir(join(dir, 'many', s), { recursive: true })
    for (const r of RESOURCES) await writeFile(join(dir, 'many', s, `${r}.pressure`), pressure(3))
  }
  const settings = makeConfig({ load_weight_sources: [...RESOURCES], pressure_root: root, load_weight_interval_seconds: 0.1, load_weight_cgroups: Object.fromEntries(names.map((s) => [s, join(dir, 'many', s)])) }).loadWeight
  if (settings === null) throw new Error('load weights are off')
  const delay = async (): Promise<number> => {
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    h.disable()
    return h.max / 1e6
  }
  const without = await delay()
  const sampler = new LoadSampler({ settings }).start()
  const withSampler = await delay()
  sampler.stop()
  return { cgroups, withSampler, without }
}

interface Pair { on: ServerProcess, off: ServerProcess, onAgent: number, offAgent: number }

async function startPair (dir: string, pressureRoot: string, cgroupOf: (service: string) => string): Promise<Pair> {
  const onAgent = await freePort()
  const offAgent = await freePort()
  const cgroups = Object.fromEntries(CGROUP_SERVICES.map((s) => [s, cgroupOf(s)]))
  const on = await startHacheck('load-on', dir, JSON.stringify({ agent_port: onAgent, load_weight_sources: [...RESOURCES], pressure_root: pressureRoot, load_weight_cgroups: cgroups }), PIN ? 1 : undefined)
  const off = await startHacheck('load-off', dir, JSON.stringify({ agent_port: offAgent }), PIN ? 1 : undefined)
  return { on, off, onAgent, offAgent }
}

async function idleCpu (pair: Pair): Promise<{ onMsPerS: number, offMsPerS: number }> {
  const before = [cpuSeconds(pair.on.pid), cpuSeconds(pair.off.pid)]
  await new Promise((resolve) => setTimeout(resolve, IDLE * 1000))
  const [on = 0, off = 0] = [cpuSeconds(pair.on.pid) - (before[0] ?? 0), cpuSeconds(pair.off.pid) - (before[1] ?? 0)]
  return { onMsPerS: 1000 * on / IDLE, offMsPerS: 1000 * off / IDLE }
}

async function throughput (pair: Pair): Promise<Map<string, Array<AgentSample | Sample>>> {
  const rounds = new Map<string, Array<AgentSample | Sample>>()
  const push = (name: string, s: AgentSample | Sample): void => { rounds.set(name, [...rounds.get(name) ?? [], s]); log(`${name}: ${Math.round(s.rps)}/s, cpu ${Math.round(s.serverCpu * 100)}%`) }
  let n = 0
  const nextPath = (): string => `/spool/${SERVICES[n++ % SERVICES.length] ?? 'all'}/0/`
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round}/${ROUNDS}`)
    for (const [name, port, pid, expect] of [['agent, load weights off', pair.offAgent, pair.off.pid, /^ready up\n$/], ['agent, load weights on', pair.onAgent, pair.on.pid, /^ready up [0-9]+%\n$/]] as const) {
      push(name, await runAgentLoad({ port, serverPid: pid, connections: 50, seconds: DURATION, services: SERVICES, expect }))
    }
    for (const [name, server] of [['/spool/, load weights off', pair.off], ['/spool/, load weights on', pair.on]] as const) {
      push(name, await runLoad({ url: `http://127.0.0.1:${server.port}/spool/svc0/0/`, connections: 50, duration: DURATION, serverPid: server.pid, nextPath }))
    }
  }
  return rounds
}

function render (costs: SamplingCost[], blocks: LoopBlock[], idle: { onMsPerS: number, offMsPerS: number }, rounds: Map<string, Array<AgentSample | Sample>>, uptime: string): string {
  const m = machine()
  const pct = (usPerS: number): string => `${(usPerS / 1e4).toFixed(4)} %`
  const lines = [
    `Run: ${m.date}, Node ${m.node}, ${m.cpu} (${m.cores} cores), Linux ${m.kernel}. \`uptime\` at the start: \`${uptime}\`.`,
    `Sampler: 100 services, 20 with a cgroup of their own, sources cpu, memory, io: ${(CGROUP_SERVICES.length + 1) * RESOURCES.length} reads a round; ${SAMPLES} rounds, CPU from \`process.cpuUsage\`.`,
    '',
    '| files read | CPU per round, us | per file, us | CPU per second at the default 2 s interval | unusable inputs | weight lookup (per agent reply), ns |',
    '|---|--:|--:|--:|--:|--:|',
    ...costs.map((c) => `| ${c.label} | ${c.usPerRound.toFixed(1)} | ${c.usPerRead.toFixed(2)} | ${(c.usPerRound / DEFAULT_INTERVAL_S).toFixed(1)} us/s (${pct(c.usPerRound / DEFAULT_INTERVAL_S)} of a core) | ${c.unusable} | ${c.nsPerLookup.toFixed(0)} |`),
    '',
    `Longest event-loop delay (\`monitorEventLoopDelay\`, 1 ms resolution) over 5 s in this process, with a sampler reading every 100 ms (${SCOPES_PER_TURN} scopes per turn of the loop), and over 5 s without one:`,
    '',
    '| cgroups (files a round) | with the sampler, ms | without, ms |',
    '|--:|--:|--:|',
    ...blocks.map((b) => `| ${b.cgroups} (${(b.cgroups + 1) * RESOURCES.length}) | ${b.withSampler.toFixed(1)} | ${b.without.toFixed(1)} |`),
    '',
    `Idle for ${IDLE} s, two \`bin/hacheck\` processes side by side: load weights on (kernel files, default interval) ${idle.onMsPerS.toFixed(2)} ms CPU/s, off ${idle.offMsPerS.toFixed(2)} ms CPU/s (/proc, 10 ms ticks: the difference is within the clock's resolution unless it exceeds ${(10 / IDLE).toFixed(2)} ms/s).`,
    '',
    `Throughput, ${ROUNDS} alternating rounds of ${DURATION} s, medians (${PIN ? 'hacheck pinned to CPU 1, the driver to CPU 0' : 'no pinning'}):`,
    '',
    '| path | load weights | per second (median) | min-max | server CPU | errors | unexpected answers |',
    '|---|---|--:|--:|--:|--:|--:|'
  ]
  for (const [name, samples] of rounds) {
    const rps = samples.map((s) => s.rps)
    const [path = '', state = ''] = name.split(', load weights ')
    const errors = samples.reduce((a, s) => a + s.errors, 0)
    const unexpected = samples.reduce((a, s) => a + ('unexpected' in s ? s.unexpected : s.non2xx), 0)
    lines.push(`| ${path} | ${state} | ${Math.round(median(rps))} | ${Math.round(Math.min(...rps))}-${Math.round(Math.max(...rps))} | ${Math.round(median(samples.map((s) => s.serverCpu)) * 100)} % | ${errors} | ${unexpected} |`)
  }
  return lines.join('\n')
}

async function main (): Promise<void> {
  const uptime = execFileSync('uptime', { encoding: 'utf8' }).trim()
  log(`uptime: ${uptime}`)
  if (PIN) pinSelf(0)
  const dir = await mkdtemp(join(tmpdir(), 'hacheck-bench-load-'))
  let pair: Pair | undefined
  try {
    const fixtureRoot = join(dir, 'pressure')
    await mkdir(fixtureRoot)
    for (const r of RESOURCES) await writeFile(join(fixtureRoot, r), pressure(12.5))
    for (const s of CGROUP_SERVICES) {
      await mkdir(join(dir, 'cgroups', s), { recursive: true })
      for (const r of RESOURCES) await writeFile(join(dir, 'cgroups', s, `${r}.pressure`), pressure(3))
    }
    const costs = [samplingCost('fixture files (tmp directory)', fixtureRoot, (s) => join(dir, 'cgroups', s))]
    const cgroup = kernelCgroup()
    const kernel = existsSync('/proc/pressure/cpu') && cgroup !== undefined
    if (kernel) costs.push(samplingCost(`kernel files (/proc/pressure, ${cgroup})`, '/proc/pressure', () => cgroup))
    else log('no kernel PSI files here: the kernel row is skipped')
    for (const c of costs) log(`${c.label}: ${c.usPerRound.toFixed(1)} us/round, ${c.nsPerLookup.toFixed(0)} ns/lookup, ${c.unusable} unusable`)
    const blocks = [await loopBlock(join(dir, 'b20'), 20, 5), await loopBlock(join(dir, 'b256'), 256, 5)]
    for (const b of blocks) log(`${b.cgroups} cgroups: event loop max delay ${b.withSampler.toFixed(1)} ms with the sampler, ${b.without.toFixed(1)} ms without`)
    pair = kernel ? await startPair(dir, '/proc/pressure', () => cgroup) : await startPair(dir, fixtureRoot, (s) => join(dir, 'cgroups', s))
    log(`idle ${IDLE} s...`)
    const idle = await idleCpu(pair)
    const rounds = await throughput(pair)
    const report = render(costs, blocks, idle, rounds, uptime)
    process.stdout.write(`${report}\n`)
    log(`written to ${await writeResults(join(ROOT, 'bench', 'RESULTS.md'), report, { begin: '<!-- bench-load-weight:begin (written by npm run bench:load-weight) -->', end: '<!-- bench-load-weight:end -->' })}`)
  } finally {
    if (pair !== undefined) await Promise.all([stopProcess(pair.on), stopProcess(pair.off)])
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => { process.stderr.write(`${String((err as Error).stack ?? err)}\n`); process.exitCode = 1 })
