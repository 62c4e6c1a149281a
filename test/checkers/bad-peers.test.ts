import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { grpc } from '../../src/checkers/grpc.js'
import { grpcs } from '../../src/checkers/grpcs.js'
import { mysql } from '../../src/checkers/mysql.js'
import { postgres } from '../../src/checkers/postgres.js'
import { redis } from '../../src/checkers/redis.js'
import type { Checker } from '../../src/checkers/index.js'
import type { CheckStatus } from '../../src/checkers/status.js'
import { freePort, runChecker, untilSettled } from '../helper.js'
import { blackholePort, httpUpstream, tcpUpstream } from '../upstreams.js'

// Each new protocol against peers that are not its server: a clean 503 with HAProxy's status
// for the layer that failed, within healthcheck_timeout, never a crash or a hang. A peer that
// accepts the connection and closes it is a layer 7 failure (TCP worked); a TLS client sees it
// in the handshake (layer 6).

const TIMEOUT_S = 0.4
const CONFIG = { healthcheck_timeout: TIMEOUT_S, postgres_username: 'hacheck', mysql_username: 'hacheck', mysql_password: null }

/** A peer that sends garbage as fast as it can, forever: a probe must cut it off. */
async function flood (t: TestContext): Promise<{ port: number }> {
  const chunk = Buffer.alloc(64 * 1024, 0x2a)
  return await tcpUpstream(t, (socket: Socket) => {
    const pump = (): void => { while (!socket.destroyed && socket.write(chunk)); }
    socket.on('drain', pump)
    pump()
  })
}

type Peer = 'closed port' | 'no answer to SYN' | 'HTTP server' | 'silent socket' | 'closes at once' | 'endless garbage'
const PEERS: Record<Peer, (t: TestContext) => Promise<number>> = {
  'closed port': async () => await freePort(),
  'no answer to SYN': async (t) => await blackholePort(t),
  'HTTP server': async (t) => (await httpUpstream(t)).port,
  'silent socket': async (t) => (await tcpUpstream(t)).port,
  'closes at once': async (t) => (await tcpUpstream(t, (socket) => { socket.destroy() })).port,
  'endless garbage': async (t) => (await flood(t)).port
}

const EXPECTED: Array<[string, Checker, string, Partial<Record<Peer, CheckStatus>>]> = [
  ['postgres', postgres, 'primary', { 'closed port': 'L4CON', 'no answer to SYN': 'L4TOUT', 'HTTP server': 'L7RSP', 'silent socket': 'L7TOUT', 'closes at once': 'L7RSP', 'endless garbage': 'L7RSP' }],
  ['redis', redis, 'master', { 'closed port': 'L4CON', 'no answer to SYN': 'L4TOUT', 'HTTP server': 'L7RSP', 'silent socket': 'L7TOUT', 'closes at once': 'L7RSP', 'endless garbage': 'L7RSP' }],
  ['grpc', grpc, '', { 'closed port': 'L4CON', 'no answer to SYN': 'L4TOUT', 'HTTP server': 'L7RSP', 'silent socket': 'L7TOUT', 'closes at once': 'L7RSP', 'endless garbage': 'L7RSP' }],
  ['grpcs', grpcs, '', { 'closed port': 'L4CON', 'no answer to SYN': 'L4TOUT', 'HTTP server': 'L6RSP', 'silent socket': 'L6TOUT', 'closes at once': 'L6RSP', 'endless garbage': 'L6RSP' }],
  // mysql waits for the server to speak first: an HTTP server is silent to it.
  ['mysql', mysql, 'replica', { 'closed port': 'L4CON', 'no answer to SYN': 'L4TOUT', 'HTTP server': 'L7TOUT', 'silent socket': 'L7TOUT', 'closes at once': 'L7RSP', 'endless garbage': 'L7RSP' }]
]

for (const [name, checker, query, statuses] of EXPECTED) {
  test(`${name}: peers that are not its server answer 503 with the failing layer's status`, async (t) => {
    // The first probe loads the protocol's library, which counts against its short timeout here.
    await runChecker(checker, await freePort(), { ...CONFIG, healthcheck_timeout: 10 }, { query })
    const took: string[] = []
    for (const [peer, want] of Object.entries(statuses) as Array<[Peer, CheckStatus]>) {
      const port = await PEERS[peer](t)
      // A probe its signal does not end would hang on the silent peers: fail instead, and print the times.
      const { value: outcome, ms } = await untilSettled(async () => await runChecker(checker, port, CONFIG, { query }), `${name} against ${peer}`)
      took.push(`${peer} ${ms.toFixed(0)} ms`)
      assert.deepEqual([outcome.code, outcome.checkStatus], [503, want], `${peer}: ${outcome.message}`)
      assert.ok(outcome.message.length > 0 && outcome.message.length < 400, `${peer}: ${outcome.message}`)
    }
    t.diagnostic(`timeout ${TIMEOUT_S} s: ${took.join(', ')}`)
  })
}
