/**
 * (ours) The server's reader of the fleet's published status, for `GET /fleet.json` and the
 * status page (docs/http-api.md "Fleet status"). It opens its own etcd client on first use,
 * never touches the check path, and costs etcd at most one range a second per question
 * (`all`, or one service): answers are kept {@link FRESH_MS} and concurrent requests share the
 * read in flight. Bounded: at most {@link MAX_CACHED} questions are kept.
 */
import type { Etcd3 } from 'etcd3'
import type { FleetSettings } from '../config/fleet.js'
import { openEtcd, readFleetCredentials } from './client.js'
import type { ReadStatus } from './status.js'
import { readFleetStatus, summarise, type ServiceSummary } from './status-view.js'

/** How long one read answers for, milliseconds. */
export const FRESH_MS = 1000
/** Most questions (services) kept at once. */
const MAX_CACHED = 64

/** What `/fleet.json` answers. */
export interface FleetStatusAnswer {
  /** The etcd revision read. */
  revision: number
  /** Unix seconds of the read. */
  read_at: number
  services: ServiceSummary[]
  /** With `?service=`: that service's hosts; absent otherwise. */
  hosts?: ReadStatus[]
  /** False when there were more records than one read holds. */
  complete: boolean
}

/** Reads and caches; {@link FleetStatusReader.stop} closes the client. */
export class FleetStatusReader {
  private readonly settings: FleetSettings
  private client: Promise<Etcd3> | undefined
  private readonly cache = new Map<string, { atMs: number, answer: Promise<FleetStatusAnswer> }>()
  private readonly nowMs: () => number

  constructor (settings: FleetSettings, nowMs: () => number = Date.now) {
    this.settings = settings
    this.nowMs = nowMs
  }

  /**
   * The fleet's status (or one service's, with its hosts).
   *
   * @throws the etcd error (the route answers 503).
   */
  async read (service?: string): Promise<FleetStatusAnswer> {
    const key = service ?? ''
    const hit = this.cache.get(key)
    if (hit !== undefined && this.nowMs() - hit.atMs < FRESH_MS) return await hit.answer
    const answer = this.fetch(service)
    this.cache.delete(key)
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(key, { atMs: this.nowMs(), answer })
    // A failed read is not kept: the next request tries again.
    answer.catch(() => { if (this.cache.get(key)?.answer === answer) this.cache.delete(key) })
    return await answer
  }

  private async fetch (service?: string): Promise<FleetStatusAnswer> {
    this.client ??= readFleetCredentials(this.settings).then(async (credentials) => await openEtcd(this.settings, { credentials }))
    let client: Etcd3
    try {
      client = await this.client
    } catch (err) {
      this.client = undefined
      throw err
    }
    const read = await readFleetStatus(client, this.settings.prefix, service)
    const records = service === undefined ? read.records : read.records.filter((r) => r.service === service)
    return {
      revision: read.revision,
      read_at: Math.floor(this.nowMs() / 1000),
      services: summarise(records),
      ...(service === undefined ? {} : { hosts: records }),
      complete: read.complete
    }
  }

  /** Closes the client. */
  async stop (): Promise<void> {
    const client = this.client
    this.client = undefined
    this.cache.clear()
    ;(await client?.catch(() => undefined))?.close()
  }
}
