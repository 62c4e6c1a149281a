/**
 * Every example of the doc sections "Groups and scripts" and "Coming from http_status /
 * health-checker" runs: the YAML files are saved as their first-line comment names them and
 * load without warnings; each `bin/hacheck ...` block is started as written (in a scratch
 * directory holding `bin` and `config` links to the checkout); the other shell blocks run in
 * bash and must exit 0; the HAProxy backends run in a real HAProxy; keepalived's request is sent
 * as keepalived sends it; the AWS CLI command runs against a stub `aws` that records it, and the
 * test then asks what the target group would ask.
 *
 * What must differ on a test machine is replaced in every block before it runs (see
 * `substitutions`): the ports hacheck listens on, the example server addresses, the members'
 * ports (real upstreams here), the scripts' paths (scripts written here), the MySQL user and
 * `/var/run/http_status`.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { buildConfig, loadConfig } from '../../src/config/index.js'
import { ROOT, freePort, runCommand, tempDir, waitFor, type RunResult } from '../helper.js'
import { httpUpstream, mysqlCheckUser, MYSQL, tcpUpstream } from '../upstreams.js'
import { startHaproxy } from './haproxy.js'

interface Block { lang: string, body: string }

/** The fenced code blocks of section `## <title>` of a doc (up to the next `## `). */
function sectionBlocks (doc: string, title: string): Block[] {
  const readme = readFileSync(join(ROOT, doc), 'utf8')
  const start = readme.indexOf(`\n## ${title}\n`)
  assert.notEqual(start, -1, `${doc} has no section ${title}`)
  const end = readme.indexOf('\n## ', start + 4)
  const text = readme.slice(start, end === -1 ? undefined : end)
  return [...text.matchAll(/^```([a-z]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? '', body: m[2] ?? '' }))
}

/** Runs `script` in bash (`-e`) in `cwd`. */
async function bash (script: string, cwd: string, env: Record<string, string> = {}): Promise<RunResult> {
  return await runCommand('/bin/bash', ['-e', '-c', script], { cwd, env: { ...process.env, ...env } })
}

/** A raw HTTP request as keepalived's HTTP_GET and an ALB send it; resolves with the status code. */
async function rawGet (port: number, path: string, headers: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => { data += d })
    socket.on('end', () => { resolve(Number(/^HTTP\/1\.[01] ([0-9]{3}) /.exec(data)?.[1] ?? 0)) })
    socket.on('error', reject)
    socket.write(`GET ${path} HTTP/1.0\r\n${headers}Host: 127.0.0.1:${port}\r\n\r\n`)
  })
}

/** Everything the examples need on this machine, and the replacements that point them at it. */
async function environment (t: TestContext) {
  const dir = await tempDir(t, 'hacheck-readme-')
  await symlink(join(ROOT, 'bin'), join(dir, 'bin'))
  await symlink(join(ROOT, 'config'), join(dir, 'config'))
  const scripts = join(dir, 'scripts')
  await mkdir(scripts)
  for (const name of ['zk-health-check.sh', 'exhibitor-health-check.sh']) {
    await writeFile(join(scripts, name), '#!/bin/sh\necho imok\n', { mode: 0o755 })
  }
  const tcp = await tcpUpstream(t)
  const web = await httpUpstream(t)
  const user = await mysqlCheckUser(t)
  const ports = { groups: await freePort(), healthChecker: await freePort(), httpStatus: await freePort() }
  const substitutions: Array<[RegExp, string]> = [
    [/\b3333\b/g, String(ports.groups)],
    [/\b6000\b/g, String(ports.healthChecker)],
    [/\b8001\b/g, String(ports.httpStatus)],
    [/\b5432\b/g, String(tcp.port)],
    [/\b8080\b/g, String(web.port)],
    [/\b3306\b/g, String(MYSQL.port)],
    [/\b10\.0\.0\.100\b/g, '127.0.0.1'],
    [/\b10\.0\.0\.1\b/g, '127.0.0.1'],
    [/\/usr\/local\/bin\//g, `${scripts}/`],
    [/\/var\/run\/http_status\b/g, join(dir, 'http_status')],
    [/^mysql_username: hacheck$/gm, `mysql_username: ${user.user}`],
    [/choose-a-password/g, user.password]
  ]
  t.diagnostic(`replaced: 3333→${ports.groups}, 6000→${ports.healthChecker}, 8001→${ports.httpStatus}, 5432→${tcp.port} (TCP listener), 8080→${web.port} (HTTP upstream), 10.0.0.1 and 10.0.0.100→127.0.0.1, /usr/local/bin/→scratch scripts, /var/run/http_status→scratch, the MySQL user`)
  const adapt = (text: string): string => substitutions.reduce((out, [re, to]) => out.replace(re, to), text)
  return { dir, ports, adapt, web, tcp }
}

type Env = Awaited<ReturnType<typeof environment>>

/** Saves a YAML block under the name its first line gives (`# groups.yaml`); checks it loads clean. */
async function saveYaml (env: Env, block: Block): Promise<string> {
  const name = /^# ([\w.-]+\.yaml)\n/.exec(block.body)?.[1]
  assert.ok(name !== undefined, `a YAML example names its file on its first line: ${block.body.slice(0, 40)}`)
  const path = join(env.dir, name)
  await writeFile(path, env.adapt(block.body))
  // Loading parses the groups too: a member that does not parse throws here.
  const { warnings } = await loadConfig(path)
  assert.deepEqual(warnings, [], name)
  // As written (before replacing anything) it is a valid config too.
  assert.deepEqual(buildConfig(parseYaml(block.body), name).warnings, [])
  return path
}

/** Starts a `bin/hacheck ...` block as written (adapted) and waits until it answers `/status`. */
async function startBlock (t: TestContext, env: Env, block: Block): Promise<void> {
  const line = env.adapt(block.body.trim())
  assert.match(line, /^bin\/hacheck /)
  const port = Number(/-p ([0-9]+)/.exec(line)?.[1])
  const child = spawn('/bin/sh', ['-c', `exec ${line}`], { cwd: env.dir, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  t.after(() => { child.kill('SIGKILL') })
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`exited: ${stderr}`)
    const res = await fetch(`http://127.0.0.1:${port}/status`)
    await res.arrayBuffer()
    return res.ok ? true : undefined
  }, 15000, `${line}: ${stderr}`)
}

test('docs "Groups and scripts" and "Coming from http_status / health-checker": every example runs', async (t) => {
  const env = await environment(t)
  const groups = sectionBlocks('docs/groups-and-scripts.md', 'Groups and scripts').filter((b) => b.lang !== 'text')
  const coming = sectionBlocks('docs/migration.md', 'Coming from http_status / health-checker')
  assert.deepEqual(groups.map((b) => b.lang), ['yaml', 'sh', 'sh'])
  assert.deepEqual(coming.map((b) => b.lang), ['yaml', 'yaml', 'yaml', 'sh', 'sh', 'yaml', 'sh', 'sh', 'haproxy', 'keepalived'])
  const [groupsYaml, groupsStart, groupsSession] = groups as [Block, Block, Block]
  const [hcYaml1, hcYaml2, hcYaml, hcStart, awsCli, hsYaml, hsStart, initScript, haproxySnippet, keepalivedSnippet] = coming as [Block, Block, Block, Block, Block, Block, Block, Block, Block, Block]

  // Groups and scripts: the config, the server, the session.
  await saveYaml(env, groupsYaml)
  await startBlock(t, env, groupsStart)
  const session = await bash(env.adapt(groupsSession.body), env.dir)
  assert.equal(session.code, 0, session.stderr)
  assert.match(session.stdout, new RegExp(`^tcp/${env.tcp.port} 200 Connected in`, 'm'))
  assert.match(session.stdout, new RegExp(`^http/${env.web.port}/health 200 ok$`, 'm'))
  assert.match(session.stdout, /^mysql\/[0-9]+\/ 200 MySQL connect response: /m)
  assert.match(session.stdout, /^script\/zk 200 exit 0 in [0-9.]+s: imok$/m)
  assert.match(session.stdout, /"group":"web-stack","port":0,"code":200/)
  assert.match(session.stdout, /Service web-stack in down state since [0-9.]+: zk upgrade$/m)

  // health-checker: its three translations (the last one served), and the target group's check.
  await saveYaml(env, hcYaml1)
  await saveYaml(env, hcYaml2)
  await saveYaml(env, hcYaml)
  await startBlock(t, env, hcStart)
  const stub = join(env.dir, 'stub-bin')
  await mkdir(stub)
  await writeFile(join(stub, 'aws'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "${join(env.dir, 'aws-args')}"\n`, { mode: 0o755 })
  const aws = await bash(env.adapt(awsCli.body), env.dir, { PATH: `${stub}:${process.env.PATH ?? ''}`, TARGET_GROUP_ARN: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef' })
  assert.equal(aws.code, 0, aws.stderr)
  const args = (await readFile(join(env.dir, 'aws-args'), 'utf8')).trimEnd().split('\n')
  const arg = (name: string): string => args[args.indexOf(name) + 1] ?? ''
  assert.deepEqual(args.slice(0, 2), ['elbv2', 'modify-target-group'])
  assert.equal(arg('--health-check-protocol'), 'HTTP')
  const matcher = Number(/^HttpCode=([0-9]{3})$/.exec(arg('--matcher'))?.[1])
  const albAsks = async (): Promise<number> => await rawGet(Number(arg('--health-check-port')), arg('--health-check-path'), 'User-Agent: ELB-HealthChecker/2.0\r\n')
  assert.equal(await albAsks(), matcher, 'the target group sees the instance healthy')
  const hadown = await bash('bin/hadown --spool-root spool -r test instance', env.dir)
  assert.equal(hadown.code, 0, hadown.stderr)
  assert.equal(await albAsks(), 503, 'hadown instance takes it out')

  // http_status: the config, the server, the init-script functions.
  await saveYaml(env, hsYaml)
  await startBlock(t, env, hsStart)
  const init = await bash(env.adapt(initScript.body), env.dir)
  assert.equal(init.code, 0, init.stderr)
  assert.equal(init.stdout, 'Activating squid 80: OK\nInactivating squid 80: OK\n')

  // HAProxy: squid follows activate / inactivate / hadown (disable-on-404: NOLB), web the group.
  const haproxy = await startHaproxy(t, env.adapt(haproxySnippet.body))
  const status = (row: Record<string, string>): string => `${row.status ?? ''} ${row.check_status ?? ''}`
  await haproxy.waitFor('squid', 'squid1', (row) => row.status === 'NOLB', 8000)
  const activate = await bash(env.adapt('bin/haactivate -c http_status.yaml -P 80 squid'), env.dir)
  assert.equal(activate.code, 0, activate.stderr)
  await haproxy.waitFor('squid', 'squid1', (row) => status(row) === 'UP L7OK', 8000)
  assert.equal((await bash('bin/hadown --spool-root spool -r test squid', env.dir)).code, 0)
  await haproxy.waitFor('squid', 'squid1', (row) => row.status === 'NOLB', 8000)
  await haproxy.waitFor('web', 'web1', (row) => status(row) === 'UP L7OK', 8000)

  // keepalived: its HTTP_GET request for the snippet's path, on its connect_port.
  const field = (name: string): string => new RegExp(`^\\s*${name} (.+)$`, 'm').exec(env.adapt(keepalivedSnippet.body))?.[1] ?? ''
  assert.equal((await bash('bin/haactivate -c http_status.yaml haproxy', env.dir)).code, 0)
  const keepalived = await rawGet(Number(field('connect_port')), field('path'), 'User-Agent: KeepAliveClient\r\n')
  assert.equal(keepalived, Number(field('status_code')))
})

test('config/hacheck.yaml documents the group, script and http_status keys and loads clean', async () => {
  const { config, warnings } = await loadConfig(join(ROOT, 'config', 'hacheck.yaml'))
  assert.deepEqual(warnings, [])
  assert.deepEqual(config.groups, {})
  assert.equal(config.group_failure_code, 503)
  assert.deepEqual(config.scripts, {})
  assert.equal(config.http_status_root, null)
})
