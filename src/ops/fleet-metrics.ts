/**
 * (ours) The fleet's gauges, registered beside the others only when a fleet is configured. Read
 * from the fleet view at scrape time. Aggregated over `-n` workers (each watches on its own):
 * connected is the minimum (one worker cut off shows), the sync age the maximum.
 *
 * Imports no Fastify; reaches spool/ by `import type` only.
 */
import { Gauge, type Registry } from 'prom-client'
import type { FleetView } from '../fleet/view.js'

/** Registers `hacheck_fleet_connected`, `_last_sync_seconds`, `_entries`, `_revision` and `_over_limit`. */
export function registerFleetMetrics (registry: Registry, fleet: Pick<FleetView, 'status'>): void {
  const registers = [registry]
  const gauge = (name: string, help: string, aggregator: 'min' | 'max', read: () => number): void => {
    const g: Gauge = new Gauge({ name, help, registers, aggregator, collect () { g.set(read()) } })
  }
  gauge('hacheck_fleet_connected', '1 while the watch on etcd is established, else 0 (the fleet view is then the last one read).',
    'min', () => fleet.status().connected ? 1 : 0)
  gauge('hacheck_fleet_last_sync_seconds', 'Seconds since the fleet view was last known current: 0 while connected, +Inf before the first read.',
    'max', () => fleet.status().lastSyncAgeSeconds ?? Number.POSITIVE_INFINITY)
  gauge('hacheck_fleet_entries', 'Fleet keys held in memory (spool entries and weights, fleet-wide and this host\'s).',
    'max', () => fleet.status().entries)
  gauge('hacheck_fleet_over_limit', '1 while this host has more fleet keys than its view holds (every service then answers down), else 0.',
    'max', () => fleet.status().overLimit === null ? 0 : 1)
  gauge('hacheck_fleet_revision', 'The etcd revision the fleet view reflects; 0 before the first read.',
    'min', () => fleet.status().revision ?? 0)
}
