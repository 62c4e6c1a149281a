/**
 * One etcd member for the fleet benchmark (Debian package `etcd-server`): a temp data directory,
 * free loopback ports, and its process id for CPU and memory readings through /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { freePort } from './procs.js'

/** A running etcd member. */
export interface EtcdProcess {
  readonly url: string
  readonly pid: number
  readonly child: ChildProcess
  stop: () => Promise<void>
}

/** Starts a one-member cluster with its data under `dir` and waits until it is healthy (15 s at most). */
export async function startEtcdMember (dir: string, cpu?: number): Promise<EtcdProcess> {
  const [client, peer] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${client}`
  const peerUrl = `http://127.0.0.1:${peer}`
  const etcd = [process.env.ETCD_BIN ?? '/usr/bin/etcd', '--name', 'bench', '--data-dir', join(dir, 'etcd'),
    '--listen-client-urls', url, '--advertise-client-urls', url, '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `bench=${peerUrl}`, '--logger', 'zap', '--log-level', 'error']
  const [cmd, ...args] = cpu === undefined ? etcd : ['taskset', '-c', String(cpu), ...etcd]
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 10000) stderr += d })
  const deadline = Date.now() + 15000
  for (;;) {
    try {
      const body = await (await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) })).json() as { health?: string }
      if (body.health === 'true') break
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`etcd did not become healthy: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    pid: child.pid as number,
    child,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 3000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** Resident size now (VmRSS) of a process, MB. */
export function rssMb (pid: number, status: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  return match === null ? Number.NaN : Number(match[1]) / 1024
}
