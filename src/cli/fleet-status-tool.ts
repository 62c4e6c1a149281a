/**
 * (ours) `hastatus -c FILE --fleet [SERVICE...]`: what every host publishes (docs/fleet.md
 * "Fleet status"). With services: one line per host (`<state>\t<host>\t<code>\t<age>\t<reason>`)
 * then the summary line; without: one summary line per service
 * (`web: 12 hosts, 10 up, 1 drain, 1 down`). Exit 1 when a host shown is not up.
 */
import type { ReadStatus } from '../fleet/status.js'
import { summarise, summaryLine } from '../fleet/status-view.js'
import type { FleetStore } from '../fleet/store.js'

/** Seconds as people read an age: `42s`, `3m`, `5h`, `2d`; `?` when unknown. */
export function ageText (seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?'
  const s = Math.max(0, Math.round(seconds))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}

/** One host's line. */
export function hostLine (r: ReadStatus, nowSeconds: number): string {
  return `${r.state.toUpperCase()}\t${r.host}\t${r.code}\t${ageText(r.since === null ? null : nowSeconds - r.since)}\t${r.reason}`
}

/**
 * Prints the fleet's published status; returns the exit code.
 *
 * @throws the etcd error.
 */
export async function printFleetStatus (store: FleetStore, services: readonly string[], stdout: (text: string) => void, nowSeconds: number = Date.now() / 1000): Promise<number> {
  let code = 0
  if (services.length === 0) {
    const read = await store.fleetStatus()
    for (const s of summarise(read.records)) {
      stdout(`${summaryLine(s)}\n`)
      if (s.up !== s.hosts) code = 1
    }
    if (!read.complete) stdout('(partial: more records than one read holds)\n')
    return code
  }
  for (const service of services) {
    const read = await store.fleetStatus(service)
    const records = read.records.filter((r) => r.service === service)
    for (const r of records) {
      stdout(`${hostLine(r, nowSeconds)}\n`)
      if (r.state !== 'up') code = 1
    }
    const [summary] = summarise(records)
    stdout(`${summary === undefined ? `${service}: 0 hosts, 0 up` : summaryLine(summary)}\n`)
  }
  return code
}
