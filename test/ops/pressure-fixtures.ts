/**
 * Fixture pressure files for tests: what the kernel writes in `/proc/pressure/<resource>` and a
 * cgroup's `<resource>.pressure` (kernel Documentation/accounting/psi.rst), with the value a
 * test chooses in every average of the `some` line.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** A pressure file's text whose `some` averages are all `percent`. */
export function pressureText (percent: number): string {
  const v = percent.toFixed(2)
  return `some avg10=${v} avg60=${v} avg300=${v} total=${Math.round(percent * 1000)}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`
}

/**
 * Writes (atomically: a reader never sees half a file) `<dir>/<name>` with `some` at `percent`.
 * Host files are named `cpu`, `memory`, `io`; cgroup files `cpu.pressure`, ....
 */
export async function writePressure (dir: string, name: string, percent: number): Promise<void> {
  await mkdir(dir, { recursive: true })
  const tmp = join(dir, `.${name}.tmp`)
  await writeFile(tmp, pressureText(percent))
  await rename(tmp, join(dir, name))
}
