/**
 * Load on an agent-check port, as HAProxy makes it: each of `connections` loops connects, sends
 * one `<service>\n` line (the next of `services`, from one counter shared by all loops), reads
 * the reply until the server closes, and starts over, for `seconds`. Runs in the driver process.
 */
import { connect } from 'node:net'
import { cpuSeconds } from './procs.js'

/** What one round measured. */
export interface AgentSample {
  /** Replies per second. */
  rps: number
  /** Replies that were not `ready up ...` (or `drain`/`maint` when `expect` says so). */
  unexpected: number
  /** Connection errors. */
  errors: number
  /** CPU the server used, as a fraction of one core. */
  serverCpu: number
  total: number
}

/** One agent exchange: the reply text, or an error. */
async function ask (port: number, line: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    let out = ''
    socket.setEncoding('latin1')
    socket.setTimeout(5000, () => { socket.destroy(new Error('timeout')) })
    socket.on('data', (d: string) => { out += d })
    socket.on('error', reject)
    socket.on('end', () => { socket.end(); resolve(out) })
    socket.on('connect', () => { socket.write(line) })
  })
}

/** Runs one round against the agent on `port`; `serverPid` is sampled for CPU. */
export async function runAgentLoad (opts: { port: number, serverPid: number, connections: number, seconds: number, services: readonly string[], expect: RegExp }): Promise<AgentSample> {
  let next = 0
  let total = 0
  let unexpected = 0
  let errors = 0
  const cpuBefore = cpuSeconds(opts.serverPid)
  const started = performance.now()
  const deadline = started + opts.seconds * 1000
  await Promise.all(Array.from({ length: opts.connections }, async () => {
    while (performance.now() < deadline) {
      const service = opts.services[next++ % opts.services.length] ?? 'all'
      try {
        const reply = await ask(opts.port, `${service}\n`)
        total++
        if (!opts.expect.test(reply)) unexpected++
      } catch {
        errors++
      }
    }
  }))
  const elapsed = (performance.now() - started) / 1000
  return { rps: total / elapsed, unexpected, errors, serverCpu: (cpuSeconds(opts.serverPid) - cpuBefore) / elapsed, total }
}
