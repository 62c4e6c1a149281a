/**
 * Every coded error hacheck throws, in one place.
 *
 * Codes are stable (`HC_ERR_*`) so logs, tests and callers can match on them instead of on
 * message text. Errors that reach an HTTP client carry the status code they answer with.
 * Messages use `util.format` placeholders (`%s`).
 */
import createError from '@fastify/error'

/** The config file is unreadable or a key has the wrong type; the message names file and key. Start-up exits 2. */
export const HC_ERR_CONFIG = createError<'HC_ERR_CONFIG', [string]>('HC_ERR_CONFIG', '%s')

/** The spool root cannot be created, read or written as required. */
export const HC_ERR_SPOOL_ROOT = createError<'HC_ERR_SPOOL_ROOT', [string]>('HC_ERR_SPOOL_ROOT', '%s')

/** A service or host name that could escape the spool root or is not a hacheck name. */
export const HC_ERR_SPOOL_NAME = createError<'HC_ERR_SPOOL_NAME', 400, [string]>('HC_ERR_SPOOL_NAME', '%s', 400)

/** Writing or removing a spool file failed; the previous file is left intact. */
export const HC_ERR_SPOOL_WRITE = createError<'HC_ERR_SPOOL_WRITE', [string]>('HC_ERR_SPOOL_WRITE', '%s')

/** (ours) A weight that is not an integer 0-256, or a weight file that cannot be read or parsed (fail closed: the agent answers down). */
export const HC_ERR_SPOOL_WEIGHT = createError<'HC_ERR_SPOOL_WEIGHT', 400, [string]>('HC_ERR_SPOOL_WEIGHT', '%s', 400)

/** A port outside the range a check can use. */
export const HC_ERR_BAD_PORT = createError<'HC_ERR_BAD_PORT', 400, [string]>('HC_ERR_BAD_PORT', '%s', 400)

/** `/recent?threshold=` that is not a number of seconds. */
export const HC_ERR_BAD_THRESHOLD = createError<'HC_ERR_BAD_THRESHOLD', 400, [string]>(
  'HC_ERR_BAD_THRESHOLD', 'threshold must be a number of seconds, got %s', 400)

/** A check target (from request headers) that is not a host name or address. */
export const HC_ERR_BAD_TARGET = createError<'HC_ERR_BAD_TARGET', 400, [string]>('HC_ERR_BAD_TARGET', '%s', 400)

/** (ours) An http_status query (`/status?SERVICE=...&PORT=...&VIP=...`) that is malformed; the message says how. */
export const HC_ERR_BAD_QUERY = createError<'HC_ERR_BAD_QUERY', 400, [string]>('HC_ERR_BAD_QUERY', '%s', 400)

/** Wrong command-line usage; CLIs print the message plus a usage line and exit 2. */
export const HC_ERR_USAGE = createError<'HC_ERR_USAGE', [string]>('HC_ERR_USAGE', '%s')

/** POST on the spool route while `allow_remote_spool_changes` is false (docs/security.md "Remote spool changes"). */
export const HC_ERR_REMOTE_SPOOL_DISABLED = createError<'HC_ERR_REMOTE_SPOOL_DISABLED', 403, []>(
  'HC_ERR_REMOTE_SPOOL_DISABLED', 'remote spool changes are not enabled', 403)

/** A remote spool change from an address outside `remote_spool_allowed_cidrs`. */
export const HC_ERR_CLIENT_NOT_ALLOWED = createError<'HC_ERR_CLIENT_NOT_ALLOWED', 403, [string]>(
  'HC_ERR_CLIENT_NOT_ALLOWED', 'client %s may not change the spool', 403)

/** (ours) A fleet write that would give a host more keys than its view holds (docs/fleet.md "Limits"). */
export const HC_ERR_FLEET_LIMIT = createError<'HC_ERR_FLEET_LIMIT', [string, number, number]>(
  'HC_ERR_FLEET_LIMIT', 'fleet limit: this write would give %s %d keys, over the %d a host holds; nothing was written (docs/fleet.md "Limits")')

/** (ours) A remote spool change sent by a browser from another site (a cross-site request forgery). */
export const HC_ERR_CROSS_SITE = createError<'HC_ERR_CROSS_SITE', 403, [string]>(
  'HC_ERR_CROSS_SITE', 'remote spool changes are refused from browsers on other sites: %s', 403)

/** (ours) `GET /metrics` from an address outside `metrics_allowed_cidrs`. */
export const HC_ERR_METRICS_NOT_ALLOWED = createError<'HC_ERR_METRICS_NOT_ALLOWED', 403, [string]>(
  'HC_ERR_METRICS_NOT_ALLOWED', 'client %s may not read the metrics', 403)

/** A remote spool change without the right `Authorization: Bearer` token. */
export const HC_ERR_BAD_TOKEN = createError<'HC_ERR_BAD_TOKEN', 401, []>(
  'HC_ERR_BAD_TOKEN', 'a valid Authorization: Bearer token is required', 401)

/** A form field of a remote spool change that is missing or invalid; the message names it. */
export const HC_ERR_BAD_FIELD = createError<'HC_ERR_BAD_FIELD', 400, [string]>('HC_ERR_BAD_FIELD', '%s', 400)

/** `rlimit_nofile` could not be applied; start-up fails rather than run with a lower limit. */
export const HC_ERR_RLIMIT = createError<'HC_ERR_RLIMIT', [string]>('HC_ERR_RLIMIT', '%s')

/**
 * A listening address the server cannot use (in use, not on this host, does not resolve,
 * needs privileges): the address, then why (docs/tools.md "Server command").
 */
export const HC_ERR_LISTEN = createError<'HC_ERR_LISTEN', [string, string]>('HC_ERR_LISTEN', 'cannot listen on %s: %s')

/** The system error code of a Node I/O error (`ENOENT`, `EACCES`, ...), or undefined. */
export function errnoCode (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

/** True when `err` is an Error carrying the given `HC_ERR_*` code. */
export function hasCode (err: unknown, code: string): err is Error & { code: string } {
  return err instanceof Error && (err as Error & { code?: unknown }).code === code
}
