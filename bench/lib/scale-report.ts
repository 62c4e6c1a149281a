/**
 * The many-services run as markdown: what was set up, the proof that the requests touched that
 * many services, req/s per route and memory against its target.
 */
import { SCALE_RSS_LIMIT_MB, type ScaleResult, type ScaleRoute } from './scale.js'

const f0 = (x: number): string => Math.round(x).toLocaleString('en-US')
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`

/**
 * Whether the run holds: memory within target, no socket errors, every service asked, and the
 * first pass stored one cache entry and sent one probe per service that is up.
 */
export function scaleHolds (r: ScaleResult): boolean {
  const up = r.services - r.downed
  return r.peakMb <= SCALE_RSS_LIMIT_MB && r.fill.errors === 0 && r.http.errors === 0 && r.spool.errors === 0 &&
    r.distinctServices === r.services && r.cacheEntries === up && r.fillProbes === up
}

function row (name: string, route: ScaleRoute): string {
  return `| ${name} | ${f0(route.rps)} | ${route.p99.toFixed(2)} | ${route.errors} | ${pct(route.non2xxShare)} |`
}

/** The report block. */
export function renderScale (r: ScaleResult): string {
  const up = r.services - r.downed
  return [
    `**${f0(r.services)} services.** Spool of ${f0(r.files)} files (${f0(r.downed)} services downed outright, the others downed on a port no check asks about), ` +
      '`service_name_header` set so each service is its own cache key, `cache_time` 3600. ' +
      `First pass, each service asked once: ${f0(r.fill.requests)} requests at ${f0(r.fill.rps)} req/s, ` +
      `${f0(r.cacheEntries)} cache entries stored and ${f0(r.fillProbes)} probes reaching the upstream (expected ${f0(up)} each), ` +
      `errors ${r.fill.errors}, non-2xx ${f0(r.fill.non2xx)} (expected ${f0(r.downed)}). ` +
      `Then alternating rounds cycling over all of them (${f0(r.distinctServices)} distinct services asked in all; ${f0(r.roundProbes)} probes during the rounds, all cached):`,
    '',
    '| route over all services | req/s (median) | p99 ms | errors | non-2xx (downed) |',
    '|---|--:|--:|--:|--:|',
    row('/http/svc<i>/<port>/health, warm cache', r.http),
    row('/spool/svc<i>/<port>/', r.spool),
    '',
    `RSS after a quiet second ${r.rssMb.toFixed(1)} MB, peak (VmHWM) ${r.peakMb.toFixed(1)} MB; target peak ≤ ${SCALE_RSS_LIMIT_MB} MB, no errors, every service asked, one entry and one probe per service up: ${scaleHolds(r) ? 'yes' : '**no**'}.`
  ].join('\n')
}
