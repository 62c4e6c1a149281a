/**
 * (ours) Publishes what this host answers, per service, under `<prefix>status/<service>/<host>`
 * (docs/fleet.md "Fleet status").
 *
 * All of a host's records hang on ONE etcd lease (`fleet_status_ttl` seconds): the etcd3
 * client keeps it alive (one keepalive every third of the TTL refreshes every record), and when
 * the host dies its records vanish with the lease. Once a second (never more than one
 * transaction a second), the publisher asks the {@link AnswerBook} for the records, compares
 * them with what it last wrote, and writes only what changed in one transaction of at most
 * {@link MAX_OPS_PER_TXN} operations. The check path never waits for any of it: it only notes
 * answers in the book.
 *
 * When etcd is away (a transaction fails, or the lease is lost), the publisher drops its
 * connection and what it believes is published, logs once, and retries with back-off; on
 * reconnect it grants a new lease and publishes every record again (a full re-publish).
 * {@link StatusPublisher.stop} revokes the lease, so a clean stop removes the records at once.
 */
import type { Etcd3, IRequestOp, Lease } from 'etcd3'
import type { FleetSettings } from '../config/fleet.js'
import { describeEtcdError, openEtcd, readFleetCredentials } from './client.js'
import { formatStatusRecord, statusKey, type StatusRecord } from './status.js'
import { within } from './wait.js'
import type { FleetLog } from './watcher.js'

/** Most operations in one transaction: etcd's default `--max-txn-ops`. */
export const MAX_OPS_PER_TXN = 128
/** How often the publisher looks for changes, milliseconds: at most one transaction this often. */
export const PUBLISH_INTERVAL_MS = 1000
const STOP_TIMEOUT_MS = 2000

/** Options for {@link StatusPublisher}. */
export interface PublisherOptions {
  settings: FleetSettings
  /** Lease TTL, seconds (`fleet_status_ttl`). */
  ttlSeconds: number
  /** The records to publish now, per service (`answer-book.ts`'s `spoolRecordSource`); never on the check path. */
  records: () => Promise<Map<string, StatusRecord>>
  log: FleetLog
  /** Back-off bound between reconnects, milliseconds. */
  maxBackoffMs?: number
  /** Extra gRPC channel options (the bench opens one connection per simulated host). */
  grpcOptions?: Record<string, string | number>
  /** Called after each transaction with the number of records written and removed and when it was sent (`Date.now()`); the bench counts them. */
  onWrite?: (put: number, removed: number, sentAtMs: number) => void
}

/** What `/status` shows of the publisher. */
export interface PublisherStatus {
  connected: boolean
  records: number
  /** Transactions written since start. */
  writes: number
}

/** Everything of a record but `confirmed`: what decides whether it changed. */
const comparable = (r: StatusRecord): string => JSON.stringify({ ...r, confirmed: 0 })

/** The publisher; {@link StatusPublisher.start} begins, {@link StatusPublisher.stop} revokes the lease. */
export class StatusPublisher {
  private readonly opts: PublisherOptions
  private credentials: Awaited<ReturnType<typeof readFleetCredentials>>
  private client: Etcd3 | undefined
  private lease: Lease | undefined
  private leaseId: string | undefined
  /** Key -> comparable form of what etcd holds for this host (as far as this publisher knows). */
  private readonly published = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private again = false
  private stopped = false
  private failures = 0
  private retryAtMs = 0
  private lostLogged = false
  private writes = 0
  /** When the last transaction was sent (`Date.now()`), and the round a change asked for, if one is due. */
  private lastWriteMs = 0
  private soon: NodeJS.Timeout | undefined

  constructor (opts: PublisherOptions) {
    this.opts = opts
  }

  /**
   * A change is waiting: run a round now, or as soon as a second has passed since the last
   * write (so a single change is published in milliseconds, and a flood in one write a second).
   * Synchronous and cheap: the answer book calls it from the check path.
   */
  poke (): void {
    // Before start (no timer yet) there is nothing to do: start's first round reads every record.
    if (this.soon !== undefined || this.stopped || this.timer === undefined) return
    this.soon = setTimeout(() => {
      this.soon = undefined
      this.tick().catch(() => {})
    }, Math.max(0, this.lastWriteMs + PUBLISH_INTERVAL_MS - Date.now()))
    this.soon.unref()
  }

  /**
   * Reads the TLS files and starts the timer; the first publish follows within a second.
   *
   * @throws HC_ERR_CONFIG for an unreadable TLS file.
   */
  async start (): Promise<void> {
    this.credentials = await readFleetCredentials(this.opts.settings)
    this.timer = setInterval(() => { this.tick().catch(() => {}) }, PUBLISH_INTERVAL_MS)
    this.timer.unref()
    this.tick().catch(() => {})
  }

  /** Whether the lease is held, how many records are published, how many writes were made. */
  status (): PublisherStatus {
    return { connected: this.lease !== undefined, records: this.published.size, writes: this.writes }
  }

  /** Stops the timer, revokes the lease (the records go at once) and closes the client. */
  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.soon)
    await within(this.lease?.revoke() ?? Promise.resolve(), STOP_TIMEOUT_MS, 'lease revoke').catch(() => {})
    this.disconnect()
  }

  /** One round: read the records, connect when needed, write what changed. */
  async tick (): Promise<void> {
    if (this.stopped) return
    // A round asked for while one runs follows it (a change noted meanwhile is not left for the next second).
    if (this.busy) { this.again = true; return }
    this.busy = true
    try {
      const records = await this.opts.records()
      if (this.lease === undefined) {
        if (Date.now() < this.retryAtMs) return
        await this.connect()
      }
      await this.write(records)
      this.failures = 0
    } catch (err) {
      this.lost(err)
    } finally {
      this.busy = false
      if (this.again) { this.again = false; this.poke() }
    }
  }

  private async connect (): Promise<void> {
    this.client = await openEtcd(this.opts.settings, { credentials: this.credentials, grpcOptions: this.opts.grpcOptions })
    const lease = this.client.lease(this.opts.ttlSeconds)
    lease.on('lost', (err) => { if (this.lease === lease) this.lost(err) })
    this.leaseId = await lease.grant()
    this.lease = lease
    this.published.clear()
    if (this.lostLogged) this.opts.log.info({ lease: this.leaseId }, 'fleet: publishing status again (every record re-published)')
    this.lostLogged = false
  }

  /** Writes the records that changed and removes those gone, in one bounded transaction. */
  private async write (records: Map<string, StatusRecord>): Promise<void> {
    const { settings } = this.opts
    const ops: IRequestOp[] = []
    const next = new Map<string, string | null>()
    for (const [service, record] of records) {
      const key = statusKey(settings.prefix, service, settings.host)
      const form = comparable(record)
      if (this.published.get(key) === form) continue
      if (ops.length >= MAX_OPS_PER_TXN) break
      ops.push({ request_put: { key: Buffer.from(key), value: Buffer.from(formatStatusRecord(record)), lease: this.leaseId } })
      next.set(key, form)
    }
    const wanted = new Set([...records.keys()].map((s) => statusKey(settings.prefix, s, settings.host)))
    for (const key of this.published.keys()) {
      if (wanted.has(key) || ops.length >= MAX_OPS_PER_TXN) continue
      ops.push({ request_delete_range: { key: Buffer.from(key) } })
      next.set(key, null)
    }
    if (ops.length === 0 || this.client === undefined) return
    // At most one transaction a second: a change within the second waits for the next.
    if (Date.now() - this.lastWriteMs < PUBLISH_INTERVAL_MS) { this.poke(); return }
    const sentAtMs = Date.now()
    this.lastWriteMs = sentAtMs
    await this.client.kv.txn({ success: ops })
    this.writes++
    let put = 0
    for (const [key, form] of next) {
      if (form === null) this.published.delete(key)
      else { this.published.set(key, form); put++ }
    }
    this.opts.onWrite?.(put, next.size - put, sentAtMs)
  }

  private disconnect (): void {
    const lease = this.lease
    this.lease = undefined
    this.leaseId = undefined
    lease?.release()
    lease?.removeAllListeners()
    this.client?.close()
    this.client = undefined
    this.published.clear()
  }

  /** Drops the connection; logs the first failure at warn, the rest at debug; backs off. */
  private lost (err: unknown): void {
    this.disconnect()
    if (this.stopped) return
    const max = this.opts.maxBackoffMs ?? 5000
    const ms = Math.min(max, 250 * 2 ** Math.min(this.failures++, 20))
    this.retryAtMs = Date.now() + ms / 2 + Math.random() * ms / 2
    const error = describeEtcdError(this.opts.settings, err)
    if (this.lostLogged) { this.opts.log.debug({ error }, 'fleet: status publishing still waiting for etcd'); return }
    this.lostLogged = true
    this.opts.log.warn({ error }, 'fleet: cannot publish status to etcd; checks are unaffected, retrying with back-off')
  }
}
