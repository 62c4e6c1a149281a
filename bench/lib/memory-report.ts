/**
 * Memory as markdown: peak RSS of the process behind each scenario, idle RSS of a fresh
 * hacheck and RSS after one probe of every protocol, each against its target.
 */
import { IDLE_RSS_LIMIT_MB, PROBED_RSS_LIMIT_MB, type MemoryResult } from './memory.js'

/** Peak RSS allowed for a hacheck process under any scenario, MB. */
export const RSS_LIMIT_MB = 100

/** The peak RSS (VmHWM) of one hacheck process, which served one scenario. */
export interface ScenarioRss {
  scenario: string
  mb: number
}

const yes = (ok: boolean): string => ok ? 'yes' : '**no**'

/** Whether every peak is within {@link RSS_LIMIT_MB}. */
export function peaksHold (peaks: readonly ScenarioRss[]): boolean {
  return peaks.every((p) => p.mb <= RSS_LIMIT_MB)
}

/** Whether idle and after-probes RSS are within target and every protocol's probe passed. */
export function memoryHolds (m: MemoryResult): { idle: boolean, probed: boolean } {
  return { idle: m.idleMb <= IDLE_RSS_LIMIT_MB, probed: m.afterProbesMb <= PROBED_RSS_LIMIT_MB && m.probes.every((p) => p.status === 200) }
}

/** The memory block. */
export function renderMemory (peaks: readonly ScenarioRss[], m: MemoryResult, reference: ReadonlyArray<{ name: string, mb: number }>): string {
  const h = memoryHolds(m)
  return [
    '| memory | RSS MB | target | holds |',
    '|---|--:|--:|---|',
    `| idle: fresh hacheck, \`/status\` answered once, 1 s quiet (VmRSS) | ${m.idleMb.toFixed(1)} | ≤ ${IDLE_RSS_LIMIT_MB} | ${yes(h.idle)} |`,
    `| after one probe of each protocol (${m.probes.map((p) => `${p.protocol} ${p.status}`).join(', ')}), 1 s quiet (VmRSS) | ${m.afterProbesMb.toFixed(1)} | ≤ ${PROBED_RSS_LIMIT_MB}, all 200 | ${yes(h.probed)} |`,
    ...peaks.map((p) => `| peak (VmHWM) of the hacheck that served: ${p.scenario} | ${p.mb.toFixed(1)} | ≤ ${RSS_LIMIT_MB} | ${yes(p.mb <= RSS_LIMIT_MB)} |`),
    '',
    `For comparison, peak RSS under the same load: ${reference.map((x) => `${x.name} ${x.mb.toFixed(1)} MB`).join(', ')}.`
  ].join('\n')
}
