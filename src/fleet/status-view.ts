/**
 * (ours) Reading the fleet's published status (docs/fleet.md "Fleet status"): every record
 * under `<prefix>status/`, or one service's, at one revision, bounded, and summed up per
 * service. Used by `hastatus --fleet`, `GET /fleet.json` and the disruption budget's count.
 *
 * Hostile records never crash a reader: keys that do not name a service and a host, values
 * too large or unreadable, all come back as `invalid` rows (counted apart in the summary).
 */
import type { Etcd3 } from 'etcd3'
import { cleanReason } from '../spool/format.js'
import { rangePrefixes } from './client.js'
import { parseStatusKey, parseStatusRecord, statusPrefix, type ReadState, type ReadStatus } from './status.js'

/** Most records one read keeps: 10,000 hosts x 20 services. */
export const MAX_STATUS_RECORDS = 200000

/** Counts of one service's hosts by published state. */
export interface ServiceSummary {
  service: string
  hosts: number
  up: number
  down: number
  drain: number
  maint: number
  failing: number
  invalid: number
}

/** What one read of the status prefix found. */
export interface FleetStatusRead {
  /** The etcd revision the read reflects. */
  revision: number
  records: ReadStatus[]
  /** False when the read stopped at {@link MAX_STATUS_RECORDS} (the summary is then partial). */
  complete: boolean
}

/** The prefix to read: every service's, or one service's records. */
export function statusReadPrefix (prefix: string, service?: string): string {
  return service === undefined ? statusPrefix(prefix) : `${statusPrefix(prefix)}${service}/`
}

/**
 * Reads the records of every service (or of `service`) at one revision.
 *
 * @throws the etcd error (unreachable, no leader, permission denied, deadline).
 */
export async function readFleetStatus (client: Etcd3, prefix: string, service?: string, maxRecords = MAX_STATUS_RECORDS): Promise<FleetStatusRead> {
  const read = await rangePrefixes(client, [statusReadPrefix(prefix, service)], { maxKeys: maxRecords })
  const records: ReadStatus[] = []
  for (const kv of read.kvs) {
    const name = parseStatusKey(prefix, kv.key)
    if (name === null) {
      const rest = kv.key.slice(statusPrefix(prefix).length)
      const slash = rest.indexOf('/')
      records.push({
        service: cleanReason((slash < 0 ? rest : rest.slice(0, slash)).slice(0, 128)),
        host: cleanReason((slash < 0 ? '' : rest.slice(slash + 1)).slice(0, 128)),
        state: 'invalid',
        code: 0,
        check_status: '',
        reason: 'invalid record: the key does not name a service and a host',
        since: null,
        weight: null,
        confirmed: null,
        mod_revision: kv.modRevision
      })
      continue
    }
    records.push(parseStatusRecord(name.service, name.host, kv.value, kv.modRevision, kv.valueBytes))
  }
  return { revision: read.revision, records, complete: read.complete }
}

const emptySummary = (service: string): ServiceSummary => ({ service, hosts: 0, up: 0, down: 0, drain: 0, maint: 0, failing: 0, invalid: 0 })

/** Counts per service, in service order. */
export function summarise (records: readonly ReadStatus[]): ServiceSummary[] {
  const by = new Map<string, ServiceSummary>()
  for (const r of records) {
    let s = by.get(r.service)
    if (s === undefined) { s = emptySummary(r.service); by.set(r.service, s) }
    s.hosts++
    s[r.state as ReadState]++
  }
  return [...by.values()].sort((a, b) => a.service < b.service ? -1 : a.service > b.service ? 1 : 0)
}

/** A summary as one line: `web: 12 hosts, 10 up, 1 drain, 1 down` (states at 0 left out, up always shown). */
export function summaryLine (s: ServiceSummary): string {
  const parts = [`${s.hosts} host${s.hosts === 1 ? '' : 's'}`, `${s.up} up`]
  for (const state of ['drain', 'maint', 'down', 'failing', 'invalid'] as const) if (s[state] > 0) parts.push(`${s[state]} ${state}`)
  return `${s.service}: ${parts.join(', ')}`
}
