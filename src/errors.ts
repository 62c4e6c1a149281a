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

/** A check target (from request headers) that is not a host name or address: the host, quoted as JSON. */
export const HC_ERR_BAD_TARGET = createError<'HC_ERR_BAD_TARGET', 400, [string]>(
  'HC_ERR_BAD_TARGET', 'invalid check target host %s', 400)

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

/** `log_path` names a file the server cannot open for appending (start-up fails): the file, then why. */
export const HC_ERR_LOG_FILE = createError<'HC_ERR_LOG_FILE', [string, string]>(
  'HC_ERR_LOG_FILE', 'cannot open log file %s (log_path): %s')

/**
 * A gRPC health answer that is not a valid `grpc.health.v1.HealthCheckResponse` (the check
 * answers down): how it is malformed.
 */
export const HC_ERR_GRPC_RESPONSE = createError<'HC_ERR_GRPC_RESPONSE', [string]>(
  'HC_ERR_GRPC_RESPONSE', 'malformed HealthCheckResponse: %s')

/**
 * A database answered the role query (`role=` checks of redis, postgres, mysql) with something
 * the checker cannot read (the check answers down): the query, then what was wrong, if more
 * than the query is needed (docs/roles.md).
 */
export const HC_ERR_ROLE_ANSWER = createError<'HC_ERR_ROLE_ANSWER', [string]>(
  'HC_ERR_ROLE_ANSWER', 'unexpected answer to %s')

/** A check (config `agent_checks` or a group member) names no registered protocol. The config error quotes it. */
export const HC_ERR_UNKNOWN_PROTOCOL = createError<'HC_ERR_UNKNOWN_PROTOCOL', [string]>(
  'HC_ERR_UNKNOWN_PROTOCOL', "unknown protocol '%s'")

/**
 * A check written in the config that is not `<protocol>/<port>/<query>` or `<protocol>/<name>`
 * as its protocol needs: not a check, a missing name, a port out of range or a query the
 * protocol refuses. The message says which; the config error around it names the key and entry.
 */
export const HC_ERR_CHECK_SPEC = createError<'HC_ERR_CHECK_SPEC', [string]>('HC_ERR_CHECK_SPEC', '%s')

/** A group member whose protocol probes nothing (`spool/...`): the group's own spool gate already runs. The config error names the member. */
export const HC_ERR_GROUP_NOT_PROBE = createError<'HC_ERR_GROUP_NOT_PROBE', [string]>(
  'HC_ERR_GROUP_NOT_PROBE', "%s is not a probe (the group's own spool gate already runs)")

/** A group member `script/<name>` with no such entry under `scripts`. The config error names the member. */
export const HC_ERR_GROUP_NO_SCRIPT = createError<'HC_ERR_GROUP_NO_SCRIPT', [string]>(
  'HC_ERR_GROUP_NO_SCRIPT', "no script '%s' under scripts")

/** A group run asked for a group that is not configured; callers check first, so this is a programming error. */
export const HC_ERR_NO_GROUP = createError<'HC_ERR_NO_GROUP', [string]>('HC_ERR_NO_GROUP', 'no group %s')

/** The status page's files are in none of the folders they are looked for in (start-up fails): the folders. */
export const HC_ERR_PAGE_FILES = createError<'HC_ERR_PAGE_FILES', [string]>(
  'HC_ERR_PAGE_FILES', 'status page files not found in %s')

/** The status page's `index.html` names an asset the server does not serve (start-up fails): the asset. */
export const HC_ERR_PAGE_ASSET = createError<'HC_ERR_PAGE_ASSET', [string]>(
  'HC_ERR_PAGE_ASSET', 'index.html names an unknown asset %s')

/**
 * A spool entry changed between being looked at and being repaired (`--repair-spool`): the
 * entry, then how. It is reported and left alone.
 */
export const HC_ERR_SPOOL_REPAIR = createError<'HC_ERR_SPOOL_REPAIR', [string, string]>(
  'HC_ERR_SPOOL_REPAIR', 'spool entry %s changed while being repaired: %s')

/** `haupdown -l` could not read the running daemon's `/recent`: the URL, then why. */
export const HC_ERR_DAEMON_LIST = createError<'HC_ERR_DAEMON_LIST', [string, string]>(
  'HC_ERR_DAEMON_LIST', 'cannot list services from the hacheck daemon at %s: %s (is it running? -p gives its port)')

/** (ours) A fleet tool's read from etcd failed: the endpoints, then etcd's reason (docs/fleet.md). */
export const HC_ERR_ETCD = createError<'HC_ERR_ETCD', [string, string]>('HC_ERR_ETCD', 'etcd at %s: %s')

/** (ours) A fleet tool's write to etcd failed before etcd took it: the endpoints, then etcd's reason (docs/fleet.md). */
export const HC_ERR_ETCD_WRITE = createError<'HC_ERR_ETCD_WRITE', [string, string]>(
  'HC_ERR_ETCD_WRITE', 'etcd at %s: %s: nothing was written')

/** (ours) A fleet tool's write got no answer from etcd in time, so it may or may not have been applied (docs/fleet.md). */
export const HC_ERR_ETCD_UNSURE = createError<'HC_ERR_ETCD_UNSURE', [string, string]>(
  'HC_ERR_ETCD_UNSURE', 'etcd at %s: %s: no answer in time, the change may or may not have been applied (check with hashowdowned --fleet)')

/** (ours) A fleet write lost its compare-and-swap to other writers every time it tried; nothing was written. */
export const HC_ERR_FLEET_CONTENDED = createError<'HC_ERR_FLEET_CONTENDED', []>(
  'HC_ERR_FLEET_CONTENDED', 'the keys kept changing under another writer; nothing was written, try again')

/**
 * (ours) `hashowdowned --fleet` found more keys than one bounded listing reads: the key count,
 * the prefixes and how many one listing read. Nothing is listed rather than part.
 */
export const HC_ERR_FLEET_LISTING = createError<'HC_ERR_FLEET_LISTING', [number, string, number]>(
  'HC_ERR_FLEET_LISTING', '%d keys under %s: more than one listing reads (%d); nothing listed')

/**
 * (ours) A fleet-side change refused by a disruption budget: the service, its budget, the
 * host to take out, and who is already out (docs/fleet.md "Disruption budgets"). Tools exit 3.
 */
export const HC_ERR_BUDGET = createError<'HC_ERR_BUDGET', 409, [string, string, string, string]>(
  'HC_ERR_BUDGET', 'disruption budget of %s is %s: taking %s out would pass it; already out: %s. Nothing was written (--force overrides)', 409)

/** (ours) A budget-checked change when the budget cannot be counted (etcd away, too many keys); tools exit 3. */
export const HC_ERR_BUDGET_UNKNOWN = createError<'HC_ERR_BUDGET_UNKNOWN', 409, [string]>(
  'HC_ERR_BUDGET_UNKNOWN', 'disruption budget unknown: %s. Refused (--force overrides)', 409)

/** (ours) A fleet-wide disruptive change that a budget (or `all`) makes need `--force`; tools exit 3. */
export const HC_ERR_BUDGET_FLEET = createError<'HC_ERR_BUDGET_FLEET', 409, [string]>(
  'HC_ERR_BUDGET_FLEET', '%s takes every host out at once: refused without --force; nothing was written', 409)

/**
 * (ours) The sockets systemd passed (`LISTEN_FDS`, `LISTEN_FDNAMES`; sd_listen_fds(3)) cannot
 * be used: a count or name that is not what `hacheck.socket` declares. Start-up exits 1.
 */
export const HC_ERR_SOCKET_ACTIVATION = createError<'HC_ERR_SOCKET_ACTIVATION', [string]>(
  'HC_ERR_SOCKET_ACTIVATION', 'socket activation: %s (docs/operator-guide.md "Restarts and upgrades")')

/** The system error code of a Node I/O error (`ENOENT`, `EACCES`, ...), or undefined. */
export function errnoCode (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

/** True when `err` is an Error carrying the given `HC_ERR_*` code. */
export function hasCode (err: unknown, code: string): err is Error & { code: string } {
  return err instanceof Error && (err as Error & { code?: unknown }).code === code
}
