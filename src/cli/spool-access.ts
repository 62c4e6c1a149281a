/**
 * (ours) The tools' side of spool ownership (docs/install.md "Spool ownership"): after a write,
 * `haup`, `hadown` and `haweight` put right what an earlier tool (or a hand-made file) left
 * unreadable to the server, and say what they changed; `hastatus` names every entry the server
 * cannot read, with the command that fixes it. What the server can read is judged from the
 * spool root's owner and group (`spool/ownership.ts`).
 *
 * Output goes to stderr: stdout keeps the reference's line formats, which scripts parse.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { ownerMayRead, repairSpool, spoolOwner, entriesRead, SPOOL_DIR_MODE, SPOOL_FILE_MODE } from '../spool/ownership.js'
import { fileOf, type SpoolKey } from '../spool/spool.js'
import { WEIGHT_DIR } from '../spool/weight.js'

/** Largest `/etc/passwd` or `/etc/group` read for names; past it, ids print as numbers. */
const MAX_ID_FILE_BYTES = 1024 * 1024

/** Reads the start of a small system file; empty when it cannot be read. */
function readSmall (path: string): string {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return ''
  }
  try {
    const buf = Buffer.alloc(MAX_ID_FILE_BYTES)
    return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0))
  } catch {
    return ''
  } finally {
    closeSync(fd)
  }
}

/** Names of users and groups by id, from `/etc/passwd` and `/etc/group` (ids without a local name print as numbers). */
export class IdNames {
  private readonly users: Map<number, string>
  private readonly groups: Map<number, string>

  constructor (passwd = readSmall('/etc/passwd'), group = readSmall('/etc/group')) {
    this.users = IdNames.parse(passwd)
    this.groups = IdNames.parse(group)
  }

  private static parse (text: string): Map<number, string> {
    const ids = new Map<number, string>()
    for (const line of text.split('\n')) {
      const [name, , id] = line.split(':')
      if (name !== undefined && name !== '' && id !== undefined && /^[0-9]+$/.test(id) && !ids.has(Number(id))) ids.set(Number(id), name)
    }
    return ids
  }

  /** `user:group`, as `chown` takes it. */
  of (uid: number, gid: number): string {
    return `${this.users.get(uid) ?? uid}:${this.groups.get(gid) ?? gid}`
  }
}

const octal = (mode: number): string => mode.toString(8).padStart(4, '0')

/** A path as a shell word: bare when it is plain, else in single quotes. */
export function shellWord (text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`
}

/**
 * After a write: repairs the spool (see `repairSpool`) and prints one line per entry changed
 * or left broken. Never throws: the write itself has succeeded.
 */
export async function repairAfterWrite (prog: string, root: string, stderr: (text: string) => void, names = new IdNames()): Promise<void> {
  const report = await repairSpool(root)
  for (const r of report.repaired) {
    stderr(`${prog}: repaired ${r.path}, which the server could not read or did not own: ${names.of(r.before.uid, r.before.gid)} ${octal(r.before.mode)} -> ${names.of(r.after.uid, r.after.gid)} ${octal(r.after.mode)}\n`)
  }
  for (const f of report.failed) stderr(`${prog}: cannot repair ${f.path}: ${f.error}\n`)
  for (const dir of report.truncated) stderr(`${prog}: ${dir} holds too many entries; only the first were checked\n`)
}

/**
 * For `hastatus`: one line per entry that the server reads for these keys (the root, the
 * spool files, `@weight` and its files) and cannot read, with the command that fixes it.
 *
 * @returns the lines (empty when the server can read everything).
 */
export function unreadableLines (prog: string, root: string, keys: readonly SpoolKey[], names = new IdNames()): string[] {
  const owner = spoolOwner(root)
  if (owner === undefined) return []
  const files = ['all', ...keys.flatMap((key) => [key.service, fileOf(key)])]
  const lines: string[] = []
  for (const { path, stats } of entriesRead(root, files, WEIGHT_DIR)) {
    if (ownerMayRead(stats, owner)) continue
    const want = names.of(owner.uid, owner.gid)
    const mode = octal(stats.isDirectory() ? SPOOL_DIR_MODE : SPOOL_FILE_MODE)
    lines.push(`${prog}: the server (${want}, the spool root's owner) cannot read ${path} ` +
      `(${names.of(stats.uid, stats.gid)} ${octal(stats.mode & 0o7777)}) and answers down where it needs it; ` +
      `fix: chown ${want} ${shellWord(path)} && chmod ${mode} ${shellWord(path)} ` +
      '(or run haup, hadown or haweight as root, which repair it)')
  }
  return lines
}
