/**
 * The container image, built from the Dockerfile when `docker` with a running daemon is
 * available (skipped otherwise, with the reason). Checks what the Dockerfile promises: the
 * Debian package installed, a production-safe config, only dist/src compiled in, a HEALTHCHECK
 * that follows the port the server was given, and the spool tools on PATH agreeing with the
 * server.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { parse } from 'yaml'
import { ROOT, freePort, waitFor } from '../helper.js'

interface Run { code: number, stdout: string, stderr: string }

/** Runs `docker ...` (bounded in time and output). */
async function docker (args: readonly string[], timeoutMs = 60000): Promise<Run> {
  return await new Promise((resolve) => {
    execFile('docker', args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as NodeJS.ErrnoException).code === 'number' ? (err as unknown as { code: number }).code : 127
      resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr })
    })
  })
}

/** Why the image cannot be built here, or null when docker and its daemon answer. */
async function dockerUnavailable (): Promise<string | null> {
  const r = await docker(['version', '--format', '{{.Server.Version}}'], 10000)
  if (r.code === 0) return null
  const why = r.stderr.trim().split('\n').filter((l) => l.trim() !== '').at(-1) ?? `exit ${r.code}`
  return `docker with a running daemon is not available: ${why}`
}

test('the image: production config, dist/src only, HEALTHCHECK on the given port, tools on PATH', { timeout: 15 * 60 * 1000 }, async (t) => {
  const unavailable = await dockerUnavailable()
  if (unavailable !== null) {
    t.skip(unavailable)
    return
  }
  const tag = `hacheck-test:${process.pid}-${Math.floor(Math.random() * 1e6)}`
  const build = await docker(['build', '-t', tag, '.'], 14 * 60 * 1000)
  assert.equal(build.code, 0, build.stderr)
  t.after(async () => { await docker(['image', 'rm', '-f', tag]) })

  const config = await docker(['run', '--rm', '--entrypoint', 'cat', tag, '/etc/hacheck/hacheck.yaml'])
  const doc = parse(config.stdout) as Record<string, unknown>
  assert.equal(doc.mysql_username, null, 'no mysql root in the image')
  assert.equal(doc.mysql_password, null)
  const dist = await docker(['run', '--rm', '--entrypoint', 'ls', tag, '/usr/lib/hacheck/dist'])
  assert.equal(dist.stdout.trim(), 'src', 'test/ and bench/ are not compiled into the image')
  // The image is the Debian package installed: dpkg knows it, and the server runs as its user.
  const dpkg = await docker(['run', '--rm', '--entrypoint', 'dpkg-query', tag, '-W', '-f=$' + '{Status}', 'hacheck'])
  assert.equal(dpkg.stdout, 'install ok installed')
  assert.equal((await docker(['run', '--rm', '--entrypoint', 'id', tag, '-un'])).stdout.trim(), 'hacheck')

  // Another port than 3333: the HEALTHCHECK must follow it.
  const port = await freePort()
  const name = `hacheck-test-${process.pid}-${Math.floor(Math.random() * 1e6)}`
  const run = await docker(['run', '-d', '--rm', '--name', name, '-p', `127.0.0.1:${port}:8080`, tag, '-p', '8080'])
  assert.equal(run.code, 0, run.stderr)
  t.after(async () => { await docker(['rm', '-f', name]) })
  const health = await waitFor(async () => {
    const r = await docker(['inspect', '--format', '{{.State.Health.Status}}', name])
    return r.stdout.trim() === 'healthy' ? 'healthy' : undefined
  }, 90000, 'a healthy container')
  assert.equal(health, 'healthy')
  assert.equal((await fetch(`http://127.0.0.1:${port}/spool/web/0/`)).status, 200)

  // The tools in the container read the same config (HACHECK_CONFIG) and so the same spool.
  assert.equal((await docker(['exec', name, 'hadown', '-r', 'in docker', 'web'])).code, 0)
  assert.equal((await fetch(`http://127.0.0.1:${port}/spool/web/0/`)).status, 503)
})
