/**
 * Real etcd for the fleet tests (Debian package `etcd-server`, installed by `.ci/run`): members
 * started on free 127.0.0.1 ports with their data in temp directories, killed after the test.
 * A member can be killed and started again on the same ports and data (a restart), and the
 * cluster's leader is found through etcd's HTTP gateway (`/v3/maintenance/status`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { freePort, tempDir, waitFor } from './helper.js'

/** Where Debian installs etcd. */
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd'

/** One etcd member. */
export interface EtcdMember {
  readonly name: string
  /** `http(s)://127.0.0.1:<port>`. */
  readonly clientUrl: string
  readonly peerUrl: string
  readonly dataDir: string
  /** The running process, or undefined after {@link EtcdMember.kill}. */
  child: () => ChildProcess | undefined
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill: (signal?: NodeJS.Signals) => Promise<void>
  /** Starts it again with the same ports and data; `wait` (default true): until it is healthy. */
  start: (wait?: boolean) => Promise<void>
  /** What the current process printed. */
  output: () => string
}

/** TLS settings for a member (files from {@link testCertificates}). */
export interface EtcdTls {
  cert: string
  key: string
  /** When set, clients must present a certificate signed by this CA. */
  clientCa?: string
}

/** Options for {@link startEtcdCluster}. */
export interface EtcdOptions {
  /** Number of members; default 1. */
  members?: number
  tls?: EtcdTls
  /** Extra flags for every member. */
  args?: string[]
}

async function healthy (member: EtcdMember, tls: boolean): Promise<boolean> {
  if (tls) return true // the gateway needs a client certificate; the tests' first call waits instead
  try {
    const res = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(500) })
    const body = await res.json() as { health?: string }
    return body.health === 'true'
  } catch {
    return false
  }
}

/**
 * Starts a cluster of `members` (default 1) on free loopback ports and waits until it has a
 * leader. Faster elections than the defaults (heartbeat 50 ms, election 500 ms), so a leader
 * change takes well under a second.
 *
 * @throws when etcd is not installed or does not become healthy within 15 s.
 */
export async function startEtcdCluster (t: TestContext, opts: EtcdOptions = {}): Promise<EtcdMember[]> {
  try {
    await access(ETCD_BIN)
  } catch {
    throw new Error(`${ETCD_BIN} not found: install the Debian package etcd-server (.ci/run does)`)
  }
  const n = opts.members ?? 1
  const dir = await tempDir(t, 'hacheck-etcd-')
  const scheme = opts.tls === undefined ? 'http' : 'https'
  const specs = []
  for (let i = 0; i < n; i++) specs.push({ name: `m${i}`, client: await freePort(), peer: await freePort() })
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',')
  const token = `hacheck-test-${process.pid}-${Date.now()}`
  const members: EtcdMember[] = specs.map((spec) => {
    const dataDir = join(dir, spec.name)
    const clientUrl = `${scheme}://127.0.0.1:${spec.client}`
    const peerUrl = `http://127.0.0.1:${spec.peer}`
    let child: ChildProcess | undefined
    let output = ''
    const args = [
      '--name', spec.name, '--data-dir', dataDir,
      '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-token', token, '--initial-cluster-state', 'new',
      '--heartbeat-interval', '50', '--election-timeout', '500',
      '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
      ...(opts.tls === undefined ? [] : ['--cert-file', opts.tls.cert, '--key-file', opts.tls.key]),
      ...(opts.tls?.clientCa === undefined ? [] : ['--client-cert-auth', '--trusted-ca-file', opts.tls.clientCa]),
      ...(opts.args ?? [])
    ]
    const member: EtcdMember = {
      name: spec.name,
      clientUrl,
      peerUrl,
      dataDir,
      child: () => child,
      output: () => output,
      kill: async (signal = 'SIGKILL') => {
        const proc = child
        if (proc === undefined) return
        child = undefined
        if (proc.exitCode !== null || proc.signalCode !== null) return
        const exited = new Promise((resolve) => proc.once('exit', resolve))
        proc.kill(signal)
        await exited
      },
      start: async (wait = true) => {
        output = ''
        const proc = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] })
        child = proc
        proc.stderr?.setEncoding('utf8').on('data', (d: string) => { if (output.length < 100000) output += d })
        if (wait) await waitFor(async () => (await healthy(member, opts.tls !== undefined)) ? true : undefined, 15000, `etcd ${spec.name} healthy; output: ${output}`)
      }
    }
    return member
  })
  t.after(async () => { await Promise.all(members.map(async (m) => { await m.kill() })) })
  // Members of a new cluster wait for each other: start them all, then wait.
  await Promise.all(members.map(async (m) => { await m.start(false) }))
  await Promise.all(members.map(async (m) => {
    await waitFor(async () => (await healthy(m, opts.tls !== undefined)) ? true : undefined, 15000, `etcd ${m.name} healthy`)
      .catch((err: Error) => { throw new Error(`${err.message}; output: ${m.output()}`) })
  }))
  return members
}

/** One member (see {@link startEtcdCluster}). */
export async function startEtcd (t: TestContext, opts: Omit<EtcdOptions, 'members'> = {}): Promise<EtcdMember> {
  return (await startEtcdCluster(t, { ...opts, members: 1 }))[0] as EtcdMember
}

/** The member that is the leader now, asked of the running members (plain http only). */
export async function etcdLeader (members: readonly EtcdMember[]): Promise<EtcdMember> {
  return await waitFor(async () => {
    const ids = new Map<string, EtcdMember>()
    let leader: string | undefined
    for (const m of members) {
      if (m.child() === undefined) continue
      try {
        const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(500) })
        const body = await res.json() as { header?: { member_id?: string }, leader?: string }
        if (body.header?.member_id !== undefined) ids.set(body.header.member_id, m)
        if (body.leader !== undefined && body.leader !== '0') leader = body.leader
      } catch {}
    }
    return leader === undefined ? undefined : ids.get(leader)
  }, 10000, 'an etcd leader')
}

/** PEM files of a test CA and the certificates it signed (paths). */
export interface TestCertificates {
  ca: string
  /** For etcd: CN and subjectAltName 127.0.0.1. */
  serverCert: string
  serverKey: string
  /** For clients (hacheck, the tools). */
  clientCert: string
  clientKey: string
}

/** A CA, a server and a client certificate made at test time with openssl (EC P-256, one day). */
export async function testCertificates (t: TestContext): Promise<TestCertificates> {
  const dir = await tempDir(t, 'hacheck-etcd-tls-')
  const p = (name: string): string => join(dir, name)
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'ignore' }) }
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ssl('req', '-x509', ...newKey, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=hacheck-test-ca')
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'], ['client', 'extendedKeyUsage=clientAuth\n']] as const) {
    await writeFile(p(`${name}.ext`), ext)
    ssl('req', ...newKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name === 'server' ? '127.0.0.1' : 'hacheck'}`)
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${name}.pem`), '-days', '1', '-extfile', p(`${name}.ext`))
  }
  return { ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') }
}

async function memberStatus (m: EtcdMember): Promise<{ id: string, leader: string }> {
  const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) })
  const body = await res.json() as { header?: { member_id?: string }, leader?: string }
  return { id: body.header?.member_id ?? '', leader: body.leader ?? '' }
}

/** Open watch streams on a member (`etcd_debugging_mvcc_watch_stream_total` of its /metrics). */
export async function etcdWatchStreams (m: EtcdMember): Promise<number> {
  const text = await (await fetch(`${m.clientUrl}/metrics`, { signal: AbortSignal.timeout(1000) })).text()
  return Number(/^etcd_debugging_mvcc_watch_stream_total (\S+)$/m.exec(text)?.[1] ?? 0)
}

/** Makes `target` the leader (etcd's MoveLeader, asked of the current leader) and waits for it. */
export async function etcdMoveLeader (members: readonly EtcdMember[], target: EtcdMember): Promise<void> {
  const leader = await etcdLeader(members)
  if (leader === target) return
  const { id } = await memberStatus(target)
  const res = await fetch(`${leader.clientUrl}/v3/maintenance/transfer-leadership`, { method: 'POST', body: JSON.stringify({ targetID: id }), signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`transfer-leadership answered ${res.status}: ${await res.text()}`)
  await waitFor(async () => (await etcdLeader(members)) === target ? true : undefined, 5000, `${target.name} to lead`)
}
