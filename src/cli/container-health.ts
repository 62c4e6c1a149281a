/**
 * The container image's HEALTHCHECK (`node /app/dist/src/cli/container-health.js`): asks
 * `GET /status` on every port the server listens on, read from the server's own command line
 * (PID 1, or the hacheck an init such as tini started), so the check follows whatever `-p` and
 * `-B` a `docker run` passes instead of assuming 3333. `/status` probes nothing upstream: it
 * proves the process serves. Exit 0 when every port answers 200 in time, else 1 with one line
 * naming the port that did not.
 *
 * Imports no Fastify: it runs every few seconds.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseServerArgs, type ServerArgs } from './server-args.js'

/** Bound on each `/status` request, milliseconds (below the image's `--timeout=3s`). */
export const HEALTH_TIMEOUT_MS = 2500

/** Largest command line read, bytes. */
const MAX_CMDLINE = 65536

/**
 * The server's arguments from a process's argv (`node /app/bin/hacheck -c ... -p 3333`, or
 * behind an init `/sbin/docker-init -- /app/bin/hacheck ...`): what follows the first element
 * named `hacheck`, or `null` when there is none.
 */
export function serverArgvOf (cmdline: readonly string[]): string[] | null {
  const at = cmdline.findIndex((arg) => basename(arg) === 'hacheck')
  return at === -1 ? null : cmdline.slice(at + 1)
}

/**
 * The `/status` URL of each listening port: a wildcard bind (`0.0.0.0`, `::`) is asked on
 * 127.0.0.1, any other address on itself.
 */
export function statusUrls (args: Pick<ServerArgs, 'ports' | 'bindAddress'>): string[] {
  const bind = args.bindAddress
  const host = bind === '0.0.0.0' || bind === '::' || bind === '' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind
  return args.ports.map((port) => `http://${host}:${port}/status`)
}

/** Asks each URL once; resolves `null` when all answer 200, else why the first did not. */
export async function checkStatus (urls: readonly string[], timeoutMs = HEALTH_TIMEOUT_MS): Promise<string | null> {
  for (const url of urls) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
      await res.body?.cancel()
      if (res.status !== 200) return `${url} answered ${res.status}`
    } catch (err) {
      const cause = (err as Error).cause
      return `${url}: ${cause instanceof Error ? cause.message : (err as Error).message}`
    }
  }
  return null
}

/** Reads PID 1's command line and checks every port it serves. */
export async function main (cmdlineFile = '/proc/1/cmdline'): Promise<number> {
  let argv: string[] | null
  let args: ServerArgs
  try {
    const raw = readFileSync(cmdlineFile).subarray(0, MAX_CMDLINE).toString('utf8')
    argv = serverArgvOf(raw.split('\0').filter((arg) => arg !== ''))
    if (argv === null) {
      process.stderr.write(`hacheck health: no hacheck in ${cmdlineFile}\n`)
      return 1
    }
    args = parseServerArgs(argv)
  } catch (err) {
    process.stderr.write(`hacheck health: ${(err as Error).message}\n`)
    return 1
  }
  const failure = await checkStatus(statusUrls(args))
  if (failure !== null) process.stderr.write(`hacheck health: ${failure}\n`)
  return failure === null ? 0 : 1
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => { process.exitCode = code }, () => { process.exitCode = 1 })
}
