/**
 * (ours) Socket activation: the listening sockets systemd passes to the service
 * (`hacheck.socket`), read with sd_listen_fds(3) semantics, so a restart leaves connections
 * waiting in the kernel's backlog instead of refused
 * (docs/operator-guide.md "Restarts and upgrades").
 *
 * systemd sets `LISTEN_PID` (the pid meant), `LISTEN_FDS` (how many, from fd 3) and
 * `LISTEN_FDNAMES` (colon-separated, from `FileDescriptorName=`). A socket named `http` serves
 * the HTTP API (as a `-p` port would), one named `agent` the agent check; sockets with any
 * other name (systemd's default is the unit's name) are taken in order: the first is HTTP, the
 * second the agent. The variables are removed after reading (as `unset_environment=1` does),
 * so no child inherits them.
 *
 * A `-n` primary hands the parsed set to its workers in {@link WORKER_SOCKETS_ENV}; a worker's
 * listen on those fds goes through node:cluster to the primary, which owns them.
 */
import { HC_ERR_SOCKET_ACTIVATION } from '../errors.js'

/** The first passed fd (`SD_LISTEN_FDS_START`). */
export const LISTEN_FDS_START = 3

/** More than this many passed sockets is refused: hacheck.socket declares two. */
export const MAX_LISTEN_FDS = 16

/** (ours) Where a `-n` primary tells its workers which fds to listen on (JSON of {@link ActivatedSockets}). */
export const WORKER_SOCKETS_ENV = 'HACHECK_LISTEN_FDS'

/** The sockets passed by the service manager, as fd numbers. */
export interface ActivatedSockets {
  /** HTTP sockets, in order (at least one). */
  http: number[]
  /** The agent-check socket, when one was passed. */
  agent: number | undefined
}

type Env = Record<string, string | undefined>

/**
 * Reads and removes `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` from `env`.
 *
 * @param pid - this process's pid; variables meant for another pid are ignored (and removed).
 * @returns the passed sockets, or undefined when none were passed to this process.
 * @throws HC_ERR_SOCKET_ACTIVATION for a malformed count, more than {@link MAX_LISTEN_FDS}
 *   sockets, two agent sockets, or no HTTP socket.
 */
export function takeListenFds (env: Env = process.env, pid: number = process.pid): ActivatedSockets | undefined {
  const listenPid = env.LISTEN_PID
  const count = env.LISTEN_FDS
  const names = env.LISTEN_FDNAMES
  delete env.LISTEN_PID
  delete env.LISTEN_FDS
  delete env.LISTEN_FDNAMES
  if (listenPid === undefined || count === undefined) return undefined
  if (!/^[0-9]+$/.test(listenPid) || Number(listenPid) !== pid) return undefined
  if (!/^[0-9]+$/.test(count)) throw new HC_ERR_SOCKET_ACTIVATION(`LISTEN_FDS is not a count: ${JSON.stringify(count.slice(0, 32))}`)
  const n = Number(count)
  if (n === 0) return undefined
  if (n > MAX_LISTEN_FDS) throw new HC_ERR_SOCKET_ACTIVATION(`${n} sockets passed, at most ${MAX_LISTEN_FDS} are taken`)
  const fdNames = names === undefined ? [] : names.split(':')
  const sockets: ActivatedSockets = { http: [], agent: undefined }
  const unnamed: number[] = []
  for (let i = 0; i < n; i++) {
    const fd = LISTEN_FDS_START + i
    const name = fdNames[i] ?? ''
    if (name === 'http') sockets.http.push(fd)
    else if (name === 'agent') {
      if (sockets.agent !== undefined) throw new HC_ERR_SOCKET_ACTIVATION('two sockets are named agent')
      sockets.agent = fd
    } else unnamed.push(fd)
  }
  if (sockets.http.length === 0 && unnamed.length > 0) sockets.http.push(unnamed.shift() as number)
  if (sockets.agent === undefined && unnamed.length > 0) sockets.agent = unnamed.shift()
  if (unnamed.length > 0) {
    throw new HC_ERR_SOCKET_ACTIVATION(`${unnamed.length} socket(s) without a use (name them http or agent with FileDescriptorName=)`)
  }
  if (sockets.http.length === 0) throw new HC_ERR_SOCKET_ACTIVATION('no HTTP socket passed (name one http with FileDescriptorName=)')
  return sockets
}

/**
 * In a `-n` worker: the sockets its primary passed in {@link WORKER_SOCKETS_ENV}, or undefined.
 *
 * @throws HC_ERR_SOCKET_ACTIVATION when the variable is not what a primary writes.
 */
export function workerListenFds (env: Env = process.env): ActivatedSockets | undefined {
  const text = env[WORKER_SOCKETS_ENV]
  if (text === undefined || text === '') return undefined
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { parsed = undefined }
  const value = parsed as Partial<ActivatedSockets> | undefined
  const isFd = (fd: unknown): fd is number => Number.isInteger(fd) && (fd as number) >= LISTEN_FDS_START
  if (typeof value !== 'object' || value === null || !Array.isArray(value.http) || value.http.length === 0 ||
    value.http.length > MAX_LISTEN_FDS || !value.http.every(isFd) || !(value.agent === undefined || isFd(value.agent))) {
    throw new HC_ERR_SOCKET_ACTIVATION(`${WORKER_SOCKETS_ENV} is not a set of sockets: ${JSON.stringify(text.slice(0, 64))}`)
  }
  return { http: value.http, agent: value.agent }
}
