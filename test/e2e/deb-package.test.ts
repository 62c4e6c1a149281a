/**
 * The Debian package as an operator meets it (docs/install.md "The Debian package"): built with
 * `npm run package:deb` and installed with `apt install` as README "Install" says, linted with lintian (when installed; what remains is printed), installed
 * with `apt-get install ./hacheck_<version>_amd64.deb`; `/usr/bin/hacheck` runs as the `hacheck`
 * user with the installed config while the tools run as root under `umask 077`, and the server
 * reads all they write; `man hadown` renders; `apt-get remove` keeps the spool, the conffile and
 * the user; `apt-get purge` leaves nothing but the user, which Debian practice keeps.
 *
 * Installs a package on this machine, so it runs only as root on a dpkg system with apt-get and
 * an amd64 Node (skipped otherwise, with the reason); it purges the package afterwards.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { copyFile, rm, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { askAgent } from '../agent/client.js'
import { ROOT, freePort, tempDir, waitFor, type RunResult } from '../helper.js'
import { userEnv } from './checkout.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
const COMMANDS = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin)
const APT_ENV = { ...userEnv(), DEBIAN_FRONTEND: 'noninteractive' }
const APT_LOCK = ['-o', 'DPkg::Lock::Timeout=300']
/** dpkg-query's field syntax (not a template string). */
const FIELD = (name: string): string => `-f=$\{${name}}`

/** What the package leaves behind after a purge, by Debian practice: nothing but the user. */
const PURGED = [
  '/usr/lib/hacheck', '/etc/hacheck', '/var/spool/hacheck', '/var/log/hacheck', '/etc/logrotate.d/hacheck',
  '/lib/systemd/system/hacheck.service', '/usr/share/doc/hacheck', '/usr/share/man/man1/hadown.1.gz',
  '/etc/systemd/system/multi-user.target.wants/hacheck.service',
  '/var/lib/systemd/deb-systemd-helper-enabled/hacheck.service.dsh-also',
  '/var/lib/systemd/deb-systemd-helper-masked/hacheck.service',
  '/lib/systemd/system/hacheck.socket', '/etc/systemd/system/sockets.target.wants/hacheck.socket',
  '/var/lib/systemd/deb-systemd-helper-enabled/hacheck.socket.dsh-also',
  '/var/lib/systemd/deb-systemd-helper-masked/hacheck.socket',
  ...COMMANDS.map((c) => `/usr/bin/${c}`)
]

function unavailable (): string | null {
  if (process.getuid?.() !== 0) return 'needs root: it installs and purges a package'
  if (process.arch !== 'x64') return `the package is amd64; this Node is ${process.arch}`
  for (const tool of ['/usr/bin/dpkg-deb', '/usr/bin/apt-get', '/usr/bin/setpriv']) {
    if (!existsSync(tool)) return `needs ${tool}`
  }
  return null
}

/** Runs a command as root, output captured, bounded in time. */
async function sh (command: string, args: readonly string[], opts: { timeoutMs?: number, env?: NodeJS.ProcessEnv, cwd?: string } = {}): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { stderr += '\n[killed: took too long]'; child.kill('SIGKILL') }, opts.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** A root tool from /usr/bin under umask 077, with the environment of a login shell (no HACHECK_*). */
async function rootTool (name: string, ...args: string[]): Promise<RunResult> {
  return await sh('/bin/sh', ['-c', 'umask 077 && exec "$@"', 'sh', `/usr/bin/${name}`, ...args])
}

async function ownerName (path: string): Promise<string> {
  const s = await stat(path)
  const name = (await sh('getent', ['passwd', String(s.uid)])).stdout.split(':')[0]
  return `${name}:${(s.mode & 0o7777).toString(8)}`
}

/** Starts the installed server as the hacheck user; resolves once it answers. */
async function startInstalled (t: TestContext, port: number, agentPort: number): Promise<() => string> {
  const child = spawn('setpriv', ['--reuid=hacheck', '--regid=hacheck', '--init-groups', '/usr/bin/hacheck',
    '-c', '/etc/hacheck/hacheck.yaml', '-B', '127.0.0.1', '-p', String(port), '--agent-port', String(agentPort)],
  { env: userEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited }
  })
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`the installed hacheck exited ${child.exitCode}: ${stderr}`)
    return await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok || undefined, () => undefined)
  }, 30_000, 'the installed hacheck to answer')
  return () => stderr
}

test('the .deb: builds, lints, installs with apt, runs as hacheck with tools as root, renders man pages, purges clean', { timeout: 45 * 60 * 1000 }, async (t) => {
  const why = unavailable()
  if (why !== null) { t.skip(why); return }
  // README "Install", as written: the package's two commands (`npm ci` has run already; `-y`
  // and no recommends, since there is no one to answer apt here).
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const block = /^## Install\n[\s\S]*?```sh\n([\s\S]*?)```/m.exec(readme)?.[1]
  assert.equal(block, `npm ci && npm run package:deb\nsudo apt install ./hacheck_${VERSION}_amd64.deb\n`, 'README "Install" starts with the package')
  const out = await tempDir(t, 'hacheck-deb-')
  const built = join(ROOT, `hacheck_${VERSION}_amd64.deb`)
  const deb = join(out, `hacheck_${VERSION}_amd64.deb`)
  t.after(async () => { await rm(built, { force: true }) })
  const startedMs = Date.now()
  // gzip instead of xz: the same package, built in a tenth of the time (the suite's budget).
  const build = await sh('npm', ['run', 'package:deb'], { timeoutMs: 30 * 60 * 1000, env: { ...userEnv(), HACHECK_DEB_COMPRESSION: 'gzip' } })
  assert.equal(build.code, 0, build.stderr)
  assert.equal(build.stdout.trim().split('\n').at(-1), built, 'it prints where the package is')
  await copyFile(built, deb)
  await rm(built)
  t.diagnostic(`built ${deb}: ${((await stat(deb)).size / 1e6).toFixed(1)} MB in ${((Date.now() - startedMs) / 1000).toFixed(0)} s`)

  if (existsSync('/usr/bin/lintian')) {
    const lint = await sh('lintian', [deb], { timeoutMs: 15 * 60 * 1000 })
    const tags = lint.stdout.split('\n').filter((l) => /^[EW]: /.test(l))
    const summary = new Map<string, number>()
    for (const line of tags) {
      const tag = line.replace(/ \[.*$/, '').replace(/^([EW]: hacheck: [a-z0-9-]+).*$/, '$1')
      summary.set(tag, (summary.get(tag) ?? 0) + 1)
    }
    for (const [tag, n] of summary) t.diagnostic(`lintian: ${tag} (${n})`)
    assert.deepEqual(tags.filter((l) => l.startsWith('E: ')), [], 'lintian reports no error')
  } else {
    t.diagnostic('lintian is not installed: the package was not linted (.ci/run installs it)')
  }

  const purge = async (): Promise<RunResult> => await sh('apt-get', [...APT_LOCK, 'purge', '-y', 'hacheck'], { env: APT_ENV, timeoutMs: 300_000 })
  t.after(async () => { await purge() })
  // The package's first install on a clean machine creates the spool; a spool root another run
  // left behind (a tool run as root with the default root, a killed earlier run) would be kept as
  // it is, by design, and the owner checks below would test that run instead of the package.
  if ((await sh('dpkg-query', ['-W', 'hacheck'])).code !== 0 && existsSync('/var/spool/hacheck')) {
    t.diagnostic(`removed a /var/spool/hacheck no package owns (${await ownerName('/var/spool/hacheck')}) before installing`)
    await rm('/var/spool/hacheck', { recursive: true })
  }
  const install = await sh('apt', [...APT_LOCK, 'install', '-y', '--no-install-recommends', `./${basename(deb)}`], { env: APT_ENV, timeoutMs: 600_000, cwd: out })
  assert.equal(install.code, 0, install.stderr)

  // What the package promises on disk.
  const passwd = (await sh('getent', ['passwd', 'hacheck'])).stdout.trim().split(':')
  assert.ok(Number(passwd[2]) < 1000, `hacheck is a system user: ${passwd.join(':')}`)
  assert.match(passwd[6] ?? '', /nologin|false/)
  assert.equal(await ownerName('/var/spool/hacheck'), 'hacheck:750')
  const conffiles = (await sh('dpkg-query', ['-W', FIELD('Conffiles'), 'hacheck'])).stdout
  assert.match(conffiles, /\/etc\/hacheck\/hacheck\.yaml [0-9a-f]{32}/)
  assert.match(conffiles, /\/etc\/logrotate\.d\/hacheck /)
  assert.ok(existsSync('/lib/systemd/system/hacheck.service'))
  assert.equal(existsSync('/lib/systemd/system/hacheck.socket'), existsSync(join(ROOT, 'config', 'hacheck.socket')), 'the socket unit ships when config/ has one')
  const version = await sh('/usr/bin/hacheck', ['--version'])
  assert.deepEqual([version.code, version.stdout], [0, `hacheck ${VERSION}\n`])
  assert.match(readFileSync('/usr/bin/hacheck', 'utf8'), /exec \/usr\/lib\/hacheck\/node\/bin\/node --max-semi-space-size=8 /, 'the server keeps bin/hacheck\'s V8 flag')
  const node = await sh('/usr/lib/hacheck/node/bin/node', ['--version'])
  t.diagnostic(`runtime: ${node.stdout.trim()}`)
  for (const page of ['hadown', 'haup', 'hacheck', 'hainactivate']) {
    const man = await sh('man', [page], { env: { ...userEnv(), MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' } })
    assert.equal(man.code, 0, `man ${page}: ${man.stderr}`)
    assert.match(man.stdout, /^(HACHECK|HADOWN|HAACTIVATE)\(1\) +hacheck manual/, `man ${page}`)
  }

  // The server as hacheck with the installed config; the tools as root under umask 077.
  const [port, agentPort] = [await freePort(), await freePort()]
  const serverLog = await startInstalled(t, port, agentPort)
  const get = async (path: string): Promise<[number, string]> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`)
    return [res.status, await res.text()]
  }
  let r = await rootTool('hadown', '-r', 'deploy', 'web')
  assert.deepEqual([r.code, r.stderr], [0, ''])
  r = await rootTool('haweight', 'api', '50')
  assert.deepEqual([r.code, r.stderr], [0, ''])
  assert.equal(await ownerName('/var/spool/hacheck/web'), 'hacheck:644')
  assert.equal(await ownerName('/var/spool/hacheck/@weight'), 'hacheck:750')
  assert.equal(await ownerName('/var/spool/hacheck/@weight/api'), 'hacheck:644')
  assert.match((await get('/spool/web/0/'))[1], /^Service web in down state since .*: deploy$/)
  assert.deepEqual(await get('/spool/db/0/'), [200, ''])
  assert.equal((await askAgent(agentPort, 'api\n')).trim(), 'ready up 50%')
  assert.equal((await askAgent(agentPort, 'db\n')).trim(), 'ready up', 'the other services answer as before')
  r = await rootTool('hastatus', 'web', 'api')
  assert.deepEqual([r.code, r.stdout.replace(/\t[0-9.]+\t|\tinf\t/, '\t<exp>\t'), r.stderr], [1, 'DOWN\t<exp>\tweb\tdeploy\nUP\tapi\nWEIGHT\t50\tapi\n', ''])
  r = await rootTool('haup', 'web')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(await get('/spool/web/0/'), [200, ''])
  assert.doesNotMatch(serverLog(), /EACCES/)

  // remove keeps operator intent, the conffile and the user; purge removes all but the user.
  await rootTool('hadown', '-r', 'kept', 'db')
  r = await sh('apt-get', [...APT_LOCK, 'remove', '-y', 'hacheck'], { env: APT_ENV, timeoutMs: 300_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(!existsSync('/usr/bin/hacheck'))
  assert.ok(existsSync('/var/spool/hacheck/db') && existsSync('/etc/hacheck/hacheck.yaml'), 'remove keeps the spool and the conffile')
  r = await purge()
  assert.equal(r.code, 0, r.stderr)
  const left = PURGED.filter((path) => existsSync(path))
  assert.deepEqual(left, [], 'purge leaves nothing of the package')
  assert.match((await sh('dpkg-query', ['-W', FIELD('db:Status-Status'), 'hacheck'])).stdout, /^(not-installed)?$/)
  assert.equal((await sh('getent', ['passwd', 'hacheck'])).code, 0, 'the system user stays, as Debian practice keeps it')
})
