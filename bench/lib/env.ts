/** Benchmark settings from the environment. */

/** A positive number from environment variable `name`, else `fallback`. */
export function envInt (name: string, fallback: number): number {
  const n = Number(process.env[name])
  return Number.isFinite(n) && n > 0 ? n : fallback
}
