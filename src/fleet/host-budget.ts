/**
 * (ours) The disruption budget check of a change made on this host outside the tools: a
 * remote spool POST, the status page's actions (docs/fleet.md "Disruption budgets"). Asks
 * etcd, on its own connection opened at first use, whether taking this host out of a service
 * stays within its budget; when etcd does not answer within {@link HOST_BUDGET_TIMEOUT_MS},
 * the budget is unknown and the change is refused (the caller's `force` skips the check).
 */
import type { FleetSettings } from '../config/fleet.js'
import { hasCode, HC_ERR_BUDGET_UNKNOWN } from '../errors.js'
import { etcdReason } from './client.js'
import { FleetStore } from './store.js'

/** Deadline on the check's etcd calls, milliseconds. */
export const HOST_BUDGET_TIMEOUT_MS = 2000

/** One host's budget checks; {@link HostBudget.stop} closes the connection. */
export class HostBudget {
  private readonly settings: FleetSettings
  private store: Promise<FleetStore> | undefined

  constructor (settings: FleetSettings) {
    this.settings = settings
  }

  /**
   * Resolves when taking this host out of `service` stays within its budget (or it has none).
   *
   * @throws HC_ERR_BUDGET naming who is out; HC_ERR_BUDGET_UNKNOWN when etcd cannot be asked.
   */
  async check (service: string): Promise<void> {
    try {
      this.store ??= FleetStore.open(this.settings, undefined, HOST_BUDGET_TIMEOUT_MS)
      await (await this.store).checkHost(this.settings.host, [{ service }])
    } catch (err) {
      if (hasCode(err, 'HC_ERR_BUDGET') || hasCode(err, 'HC_ERR_BUDGET_UNKNOWN')) throw err
      const store = this.store
      this.store = undefined
      ;(await store?.catch(() => undefined))?.close()
      throw new HC_ERR_BUDGET_UNKNOWN(`etcd at ${this.settings.endpoints.join(', ')}: ${etcdReason(err)}`)
    }
  }

  /** Closes the connection. */
  async stop (): Promise<void> {
    const store = this.store
    this.store = undefined
    ;(await store?.catch(() => undefined))?.close()
  }
}
