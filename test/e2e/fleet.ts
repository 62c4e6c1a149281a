/**
 * Helpers for the fleet end-to-end tests: hacheck "hosts" (built `bin/hacheck` processes on
 * one fleet), their answers, convergence with a time bound, and a config file for the tools.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { TestContext } from 'node:test'
import { HANG_MS, tempDir } from '../helper.js'
import { startHacheckProcess, type HacheckProcess } from './hacheck-process.js'

/**
 * Default bound, from the tool returning to every host concerned answering as expected: one for
 * a change that never arrives, not a timing (the tests print the milliseconds each took).
 */
export const WITHIN_MS = HANG_MS

/** A hacheck process standing for one host of the fleet. */
export interface FleetHost { name: string, proc: HacheckProcess }

/** Starts `names.length` hacheck processes on the fleet at `endpoints`, in parallel. */
export async function startFleetHosts (t: TestContext, endpoints: string[], names: string[], extra: Record<string, unknown> = {}): Promise<FleetHost[]> {
  return await Promise.all(names.map(async (name) => ({
    name,
    proc: await startHacheckProcess(t, { config: { fleet_etcd_endpoints: endpoints, fleet_host_name: name, ...extra } })
  })))
}

/** The status code a host answers for a spool check of `service`. */
export async function codeOf (host: FleetHost, service: string): Promise<number> {
  const res = await fetch(host.proc.url(`/spool/${service}/0/`), { signal: AbortSignal.timeout(2000) })
  await res.arrayBuffer()
  return res.status
}

/**
 * Polls every host until each answers `want(host)` for `service`.
 *
 * @returns milliseconds since `since`.
 * @throws after `withinMs`, naming each host's last answer.
 */
export async function converge (hosts: FleetHost[], service: string, want: (h: FleetHost) => number, since: number, withinMs = WITHIN_MS): Promise<number> {
  for (;;) {
    const codes = await Promise.all(hosts.map(async (h) => await codeOf(h, service).catch(() => 0)))
    if (codes.every((code, i) => code === want(hosts[i] as FleetHost))) return performance.now() - since
    if (performance.now() - since > withinMs) {
      throw new Error(`${service} did not converge within ${withinMs} ms: ${hosts.map((h, i) => `${h.name}=${codes[i] ?? '?'} (want ${want(h)})`).join(', ')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A config file for the tools naming `endpoints`. */
export async function toolConfig (t: TestContext, endpoints: string[]): Promise<string> {
  const file = join(await tempDir(t), 'tools.yaml')
  await writeFile(file, JSON.stringify({ fleet_etcd_endpoints: endpoints }))
  return file
}

/** `/status`'s fleet member of a host. */
export async function fleetStatusOf (host: FleetHost): Promise<{ connected: boolean, revision: number | null, seconds_since_last_sync: number | null }> {
  const res = await fetch(host.proc.url('/status'), { signal: AbortSignal.timeout(2000) })
  return (await res.json() as { fleet: { connected: boolean, revision: number | null, seconds_since_last_sync: number | null } }).fleet
}
