/**
 * `npm run bench:scale`: the many-services benchmark alone (`npm run bench` runs it too), with
 * hacheck pinned to CPU 1 and the upstream and load generator to CPU 0. Prints the report.
 *
 * Environment: BENCH_SERVICES (10000), BENCH_SCALE_ROUNDS (3), BENCH_DURATION (3),
 * BENCH_CONNECTIONS (100), BENCH_PIN=0.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { envInt } from './lib/env.js'
import { canPin, pinSelf, stopProcess } from './lib/procs.js'
import { runScale } from './lib/scale.js'
import { renderScale } from './lib/scale-report.js'
import { startUpstream } from './lib/servers.js'

const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && canPin()
const log = (line: string): void => { process.stderr.write(`${line}\n`) }
if (PIN) pinSelf(0)
const dir = await mkdtemp(join(tmpdir(), 'hacheck-scale-'))
const upstream = await startUpstream(dir, PIN ? 0 : undefined)
try {
  const result = await runScale({
    dir,
    cpu: PIN ? 1 : undefined,
    upstream,
    services: envInt('BENCH_SERVICES', 10000),
    rounds: envInt('BENCH_SCALE_ROUNDS', 3),
    duration: envInt('BENCH_DURATION', 3),
    connections: envInt('BENCH_CONNECTIONS', 100),
    log
  })
  process.stdout.write(`${renderScale(result)}\n`)
} finally {
  await stopProcess(upstream.proc)
  await rm(dir, { recursive: true, force: true })
}
