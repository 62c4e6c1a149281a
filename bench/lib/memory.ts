/**
 * Resident memory of a hacheck process: idle (fresh, `/status` answered once) and after one
 * probe of every protocol, each read from `/proc/<pid>/status` (VmRSS) after a quiet second,
 * so a collection in progress does not decide the number.
 */
import { readFileSync } from 'node:fs'
import { startGrpcServer } from './grpc-server.js'
import { stopProcess } from './procs.js'
import { startHacheck, type Upstream } from './servers.js'

/** Idle RSS allowed, MB. */
export const IDLE_RSS_LIMIT_MB = 60
/** RSS allowed after one probe of every protocol, MB. */
export const PROBED_RSS_LIMIT_MB = 75

/** One probe of the memory run. */
export interface ProtocolProbe {
  protocol: string
  status: number
}

/** What the memory run measured. */
export interface MemoryResult {
  idleMb: number
  afterProbesMb: number
  probes: ProtocolProbe[]
}

/** A `kB` field of `/proc/<pid>/status` in MB. */
export function statusMb (pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? Number.NaN : Number(match[1]) / 1024
}

/** Current RSS (VmRSS, MB) after `quietMs` without requests. */
export async function quietRssMb (pid: number, quietMs = 1000): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, quietMs))
  return statusMb(pid, 'VmRSS')
}

/** The databases' logins, as the issue sets them (env overrides for other machines). */
function config (): string {
  const pgUser = process.env.BENCH_PG_USER ?? 'root'
  const pgDb = process.env.BENCH_PG_DB ?? 'test'
  const myUser = process.env.BENCH_MYSQL_USER ?? 'root'
  return `cache_time: 10\nmysql_username: ${JSON.stringify(myUser)}\nmysql_password: ''\npostgres_username: ${JSON.stringify(pgUser)}\npostgres_database: ${JSON.stringify(pgDb)}\n`
}

async function probe (port: number, protocol: string, path: string): Promise<ProtocolProbe> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/${protocol}/svc/${path}`, { signal: AbortSignal.timeout(15_000) })
    await res.arrayBuffer()
    return { protocol, status: res.status }
  } catch {
    return { protocol, status: 0 }
  }
}

/**
 * A fresh hacheck on `cpu`: its idle RSS, then one probe of each protocol (http, https, tcp on
 * the upstream; mysql 3306, postgres 5432, redis 6379 on this machine; grpc on a health server
 * started here) and its RSS after them.
 */
export async function protocolMemory (dir: string, upstream: Upstream, cpu: number | undefined, otherCpu: number | undefined): Promise<MemoryResult> {
  const grpc = await startGrpcServer(otherCpu)
  const hacheck = await startHacheck('memory', dir, config(), cpu)
  try {
    const idleMb = await quietRssMb(hacheck.pid)
    const probes: ProtocolProbe[] = []
    const paths: Array<[string, string]> = [
      ['http', `${upstream.http}/health`], ['https', `${upstream.https}/health`], ['tcp', `${upstream.tcp}/`],
      ['mysql', '3306/'], ['postgres', '5432/'], ['redis', '6379/'], ['grpc', `${grpc.port}/`]
    ]
    for (const [protocol, path] of paths) probes.push(await probe(hacheck.port, protocol, path))
    const afterProbesMb = await quietRssMb(hacheck.pid)
    return { idleMb, afterProbesMb, probes }
  } finally {
    grpc.stop()
    await stopProcess(hacheck)
  }
}
