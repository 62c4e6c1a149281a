/**
 * (ours) The HAProxy agent-check wire format: the request line HAProxy sends (`agent-send`) and
 * the reply line hacheck answers.
 *
 * Reply grammar (HAProxy configuration manual, section 5.2 "agent-check"; parsed by
 * `tcpcheck_agent_expect_reply` in src/tcpcheck.c): one line ended by the first `\r` or `\n`,
 * words separated by spaces, tabs or commas, in any order, case-insensitive; the last word of
 * a category wins:
 * - administrative state: `ready` (clears DRAIN and MAINT), `drain`, `maint`;
 * - operational state: `up`, or `down` / `fail` / `stopped` (all mark the server DOWN);
 * - weight: `<n>%` of the server's configured weight;
 * - `maxconn:<n>` (hacheck never sends it);
 * - `#` starts a free-text description, shown by HAProxy only when an operational word is
 *   present.
 * Only the agent can revert what it said, so hacheck states its whole view in every reply: an
 * administrative word and an operational word, always. In maint the operational word is
 * `stopped` ("intentionally stopped", per the manual): it carries the reason into HAProxy's
 * agent description, and the next `ready up` reverts both at once.
 */
import { MAX_FILE_NAME_BYTES } from '../check-url.js'
import { cleanReason } from '../spool/format.js'
import { isValidServiceName } from '../spool/spool.js'

/** Administrative words (HAProxy admin state). */
export type AdminWord = 'ready' | 'drain' | 'maint'
/** Operational words (HAProxy health state). */
export type HealthWord = 'up' | 'down' | 'fail' | 'stopped'

/** One agent reply, before formatting. */
export interface AgentReply {
  admin?: AdminWord | undefined
  health?: HealthWord | undefined
  /** Percent of the configured weight, integer 0-256. */
  weight?: number | undefined
  /** Free text after `#`; sanitised by {@link formatAgentReply}. */
  reason?: string | undefined
}

/** Longest reason sent after `#`, in characters. */
export const MAX_REASON = 200
/** Longest request line read from HAProxy, in bytes (`<service>:<port>` is far shorter). */
export const MAX_REQUEST_BYTES = 512

/**
 * A reason made safe for one reply line: C0 controls (CR and LF included) become spaces, runs
 * of blanks collapse, anything else unsafe is escaped by `cleanReason` (the one cleaning every
 * output shares: bidi overrides, C1, separators), and the text is cut to {@link MAX_REASON}
 * characters.
 */
export function sanitiseReason (text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = cleanReason(text.replace(/[\u0000-\u001f]+/g, ' ').replace(/\s+/g, ' ').trim())
  return flat.length > MAX_REASON ? `${flat.slice(0, MAX_REASON - 3)}...` : flat
}

/**
 * The reply line: `<admin> <health> <n>% #<reason>\n`, each part only when present.
 *
 * @throws RangeError for a weight that is not an integer 0-256 (a bug: weights are validated
 *   when read).
 */
export function formatAgentReply (reply: AgentReply): string {
  const words: string[] = []
  if (reply.admin !== undefined) words.push(reply.admin)
  if (reply.health !== undefined) words.push(reply.health)
  if (reply.weight !== undefined) {
    if (!Number.isInteger(reply.weight) || reply.weight < 0 || reply.weight > 256) throw new RangeError(`agent weight must be an integer 0-256, got ${reply.weight}`)
    words.push(`${reply.weight}%`)
  }
  const reason = reply.reason === undefined ? '' : sanitiseReason(reply.reason)
  if (reason !== '') words.push(`#${reason}`)
  return `${words.join(' ')}\n`
}

/** What HAProxy makes of a reply line: {@link AgentReply} plus the words it did not know. */
export interface ParsedAgentReply extends AgentReply {
  /** Unknown words, in order (HAProxy reports the first as "agent reports an error"). */
  unknown: string[]
  maxconn?: number | undefined
}

/**
 * Parses a reply as HAProxy does (see the file comment), for tests and diagnostics.
 * `null` when there is no complete line (HAProxy: "Ignoring incomplete line from agent").
 */
export function parseAgentReply (text: string): ParsedAgentReply | null {
  const end = text.search(/[\r\n]/)
  if (end === -1) return null
  const line = text.slice(0, end)
  const hash = line.indexOf('#')
  const words = (hash === -1 ? line : line.slice(0, hash)).split(/[ \t,]+/).filter((w) => w !== '')
  const out: ParsedAgentReply = { unknown: [] }
  if (hash !== -1) out.reason = line.slice(hash + 1).replace(/^[ \t]+/, '')
  for (const word of words) {
    const lower = word.toLowerCase()
    if (lower === 'up' || lower === 'down' || lower === 'fail' || lower === 'stopped') out.health = lower
    else if (lower === 'ready' || lower === 'drain' || lower === 'maint') out.admin = lower
    else if (/^[0-9]/.test(word) && word.includes('%')) out.weight = Number.parseInt(word, 10)
    else if (lower.startsWith('maxconn:')) out.maxconn = Number.parseInt(word.slice('maxconn:'.length), 10)
    else out.unknown.push(word)
  }
  return out
}

/** What an agent request asks about: a service (`all` for the whole host) and maybe a port. */
export interface AgentRequest {
  service: string
  /** 1-65535; absent for the whole service. */
  port?: number | undefined
}

/**
 * Longest `<service>[:<port>]` accepted: the longest valid service name plus `:65535`, which
 * is what a spool file name may hold (255 bytes), so every name valid on HTTP is valid here.
 */
export const MAX_SERVICE_LINE = MAX_FILE_NAME_BYTES

/** The request of a connection that sent no line: the host-wide `all` state. */
export const HOST_REQUEST: AgentRequest = Object.freeze({ service: 'all' })

/**
 * Parses the `agent-send` line: `<service>` or `<service>:<port>`, blanks and a trailing `\r`
 * ignored; an empty line means the host (`all`). Port 0 means the whole service.
 *
 * @param line - the text before the first `\n`.
 * @returns the request, or null for anything else (answer `down #bad request`).
 */
export function parseAgentRequest (line: string): AgentRequest | null {
  const text = line.replace(/[\r]+$/, '').trim()
  if (text === '') return HOST_REQUEST
  if (text.length > MAX_SERVICE_LINE) return null
  const match = /^([^:]+)(?::([0-9]{1,5}))?$/.exec(text)
  if (match === null) return null
  const service = match[1] ?? ''
  if (!isValidServiceName(service)) return null
  if (match[2] === undefined) return { service }
  const port = Number(match[2])
  if (port > 65535) return null
  return port === 0 ? { service } : { service, port }
}
