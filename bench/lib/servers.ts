/**
 * The processes every hacheck benchmark starts: the built `bin/hacheck` with a config of its
 * own, and the upstream (`servers/upstream.ts`) with its http, https and tcp listeners and its
 * hit counters.
 */
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, startProcess, type ServerProcess } from './procs.js'

/** The repository root (from dist/bench/lib/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** The upstream process and what it listens on. */
export interface Upstream {
  proc: ServerProcess
  /** The http listener (also `proc.port`). */
  http: number
  /** The listener that accepts, counts and closes TCP connections. */
  tcp: number
  /** The https listener (self-signed certificate). */
  https: number
  /** Its counters: request path -> requests, and `tcp` -> connections accepted. */
  hits: () => Promise<Record<string, number>>
}

/** Fetches `url` and throws unless it answers 200. @returns the body. */
export async function expectOk (url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  const body = await res.text()
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body}`)
  return body
}

/** Fetches `url` as JSON (10 s at most). */
export async function getJson<T> (url: string): Promise<T> {
  return await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json() as T
}

/**
 * Starts the built `bin/hacheck` (executed itself, as a user runs it) with `config` (YAML
 * text) and a spool of its own under `dir` (`spoolRoot` to use another), on a free port, pinned
 * to `cpu` when given.
 */
export async function startHacheck (name: string, dir: string, config: string, cpu: number | undefined, spoolRoot?: string): Promise<ServerProcess> {
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, config)
  const port = await freePort()
  return await startProcess({
    name,
    args: [join(ROOT, 'bin', 'hacheck'), '-c', file, '--spool-root', spoolRoot ?? join(dir, `spool-${name}`), '-B', '127.0.0.1', '-p', String(port)],
    direct: true, // as a user runs it: the node flags of its #! line apply
    cpu,
    port,
    readyPath: '/status'
  })
}

/** Starts the upstream pinned to `cpu` (when given), with a self-signed certificate made in `dir`. */
export async function startUpstream (dir: string, cpu: number | undefined): Promise<Upstream> {
  const key = join(dir, 'upstream-key.pem')
  const cert = join(dir, 'upstream-cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  const script = join(ROOT, 'dist', 'bench', 'servers', 'upstream.js')
  const proc = await startProcess({ name: 'upstream', args: [script, key, cert], cpu, readyPath: '/health' })
  const base = `http://127.0.0.1:${proc.port}`
  const ports = await getJson<{ http: number, tcp: number, https: number | null }>(`${base}/__ports`)
  if (ports.https === null) throw new Error('the upstream did not start its https listener')
  return { proc, http: ports.http, tcp: ports.tcp, https: ports.https, hits: async () => await getJson(`${base}/__hits`) }
}
