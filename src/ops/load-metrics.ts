/**
 * (ours) The load-weight gauges, registered beside the others only when load weights are on
 * (docs/operator-guide.md "Load weights"). Read from the sampler at scrape time; labelled by
 * scope (`all` for the host, else a service named in `load_weight_cgroups`), so the label set is
 * what the config names and nothing a client sends. Aggregated over `-n` workers (each samples
 * on its own): the weight is the minimum, the pressure the maximum. NaN where nothing usable was
 * read.
 */
import { Gauge, type Registry } from 'prom-client'
import type { LoadSampler } from './load-weight.js'

/** Registers `hacheck_load_weight{service}` and `hacheck_load_pressure{service,resource,window}`. */
export function registerLoadMetrics (registry: Registry, load: Pick<LoadSampler, 'scopes' | 'settings'>): void {
  const registers = [registry]
  const weight: Gauge<'service'> = new Gauge({
    name: 'hacheck_load_weight',
    help: 'Load weight in use, percent of the configured weight (all: the host\'s, used by every service without a cgroup); NaN when no pressure source is usable.',
    labelNames: ['service'],
    aggregator: 'min',
    registers,
    collect () {
      for (const scope of load.scopes()) weight.set({ service: scope.service }, scope.weight ?? Number.NaN)
    }
  })
  const pressure: Gauge<'service' | 'resource' | 'window'> = new Gauge({
    name: 'hacheck_load_pressure',
    help: 'PSI "some" share of time stalled, percent, as last read (all: pressure_root; else the service\'s cgroup); NaN when the file cannot be used.',
    labelNames: ['service', 'resource', 'window'],
    aggregator: 'max',
    registers,
    collect () {
      const window = load.settings.window
      for (const scope of load.scopes()) {
        for (const input of scope.inputs) pressure.set({ service: scope.service, resource: input.resource, window }, input.some?.[window] ?? Number.NaN)
      }
    }
  })
}
