/**
 * Real upstream servers for checker tests, all on 127.0.0.1 and closed after each test:
 * an HTTP(S) server with canned routes that counts requests and connections, a TCP listener,
 * an SMTP responder, a listener whose connects time out, and a MariaDB check user.
 */
import { spawn, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { connect, createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { TLSSocket } from 'node:tls'
import { createConnection } from 'mysql2/promise'
import { tempDir } from './helper.js'
import { MARIADB, needs } from './prerequisites.js'

/** What an HTTP upstream saw. */
export interface HttpUpstream {
  port: number
  /** Requests per path (without query string). */
  hits: Map<string, number>
  /** Total requests. */
  requests: () => number
  /** TCP connections accepted. */
  connections: () => number
  /** Most requests in progress at once. */
  peakConcurrency: () => number
  /** SNI names seen on TLS connections (https only). */
  servernames: string[]
}

/** Extra or overriding routes: path → handler. */
export type Routes = Record<string, (req: IncomingMessage, res: ServerResponse) => void>

function baseRoutes (counter: { n: number }): Routes {
  return {
    '/health': (_req, res) => { res.end('ok') },
    '/count': (_req, res) => { res.end(`n=${++counter.n}`) },
    '/404': (_req, res) => { res.writeHead(404).end('no such thing') },
    '/501': (_req, res) => { res.writeHead(501).end('not implemented') },
    '/503': (_req, res) => { res.writeHead(503).end('overloaded') },
    '/599': (_req, res) => { res.writeHead(599).end('odd status') },
    '/301': (_req, res) => { res.writeHead(301, { location: 'http://127.0.0.1:1/elsewhere' }).end('moved') },
    '/204': (_req, res) => { res.writeHead(204).end() },
    '/big': (_req, res) => { res.end('x'.repeat(200 * 1024)) },
    '/echo': (req, res) => { res.end(req.url?.split('?')[1] ?? '') },
    '/headers': (req, res) => { res.setHeader('content-type', 'application/json').end(JSON.stringify(req.headers)) },
    '/slow': (_req, res) => { setTimeout(() => { res.end('late') }, 2000).unref() },
    '/slow200': (_req, res) => { setTimeout(() => { res.end(`n=${++counter.n}`) }, 200) },
    '/slow300': (_req, res) => { setTimeout(() => { res.end(`n=${++counter.n}`) }, 300) }
  }
}

async function listen (server: Server, t: TestContext, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  t.after(async () => {
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return (server.address() as AddressInfo).port
}

function instrument (server: Server, routes: Routes): HttpUpstream & { handle: (req: IncomingMessage, res: ServerResponse) => void } {
  let requests = 0
  let connections = 0
  let active = 0
  let peak = 0
  const hits = new Map<string, number>()
  const servernames: string[] = []
  server.on('connection', () => { connections++ })
  server.on('secureConnection', (socket: TLSSocket) => { servernames.push(String(socket.servername)) })
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests++
    active++
    peak = Math.max(peak, active)
    res.on('close', () => { active-- })
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const route = routes[path]
    if (route === undefined) res.writeHead(404).end('unknown test route')
    else route(req, res)
  }
  return { port: 0, hits, servernames, handle, requests: () => requests, connections: () => connections, peakConcurrency: () => peak }
}

/** A real HTTP server on 127.0.0.1 with the canned routes plus `extra`. */
export async function httpUpstream (t: TestContext, extra: Routes = {}): Promise<HttpUpstream> {
  const routes = { ...baseRoutes({ n: 0 }), ...extra }
  const server = createHttpServer()
  const up = instrument(server, routes)
  server.on('request', up.handle)
  up.port = await listen(server, t)
  return up
}

/** A self-signed certificate made at test time with openssl (EC P-256, valid one day). */
export async function selfSignedCert (t: TestContext): Promise<{ key: string, cert: string }> {
  const dir = await tempDir(t, 'hacheck-tls-')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=hacheck-test'], { stdio: 'ignore' })
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') }
}

/** A real HTTPS server with a self-signed certificate and the same routes. */
export async function httpsUpstream (t: TestContext, extra: Routes = {}): Promise<HttpUpstream> {
  const routes = { ...baseRoutes({ n: 0 }), ...extra }
  const server = createHttpsServer(await selfSignedCert(t))
  const up = instrument(server, routes)
  server.on('request', up.handle)
  up.port = await listen(server, t)
  return up
}

/** A TCP server; `onSocket` decides what it does with each connection (default: nothing). */
export async function tcpUpstream (t: TestContext, onSocket: (socket: Socket) => void = () => {}): Promise<{ port: number, connections: () => number }> {
  let connections = 0
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    onSocket(socket)
  })
  t.after(() => { for (const s of sockets) s.destroy() })
  const port = await listen(server, t)
  return { port, connections: () => connections }
}

/** An SMTP responder: `banner` on connect, then `quitReply` to QUIT (null: close instead). */
export async function smtpUpstream (t: TestContext, banner = '220 test.local ESMTP ready\r\n', quitReply: string | null = '221 2.0.0 Bye\r\n'): Promise<{ port: number }> {
  return await tcpUpstream(t, (socket) => {
    socket.write(banner)
    socket.on('data', (data) => {
      if (!data.toString().startsWith('QUIT')) return
      if (quitReply === null) socket.destroy()
      else socket.end(quitReply)
    })
  })
}

/**
 * A port whose connects time out: a listener in a stopped process with a full backlog, so the
 * kernel drops further SYNs (a real "silent" host on loopback).
 */
export async function blackholePort (t: TestContext): Promise<number> {
  const script = "const s=require('net').createServer(()=>{});s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n')})"
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] })
  const fillers: Socket[] = []
  t.after(() => { child.kill('SIGKILL'); for (const f of fillers) f.destroy() })
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => { resolve(Number(String(d).trim())) }))
  child.kill('SIGSTOP')
  for (let i = 0; i < 4; i++) {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    fillers.push(socket)
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  return port
}

/** MariaDB/MySQL on 127.0.0.1:3306 (root, empty password), as the machine provides it. */
export const MYSQL = { host: '127.0.0.1', port: 3306, rootUser: 'root', rootPassword: '' }

/**
 * Creates a check user with no privileges (dropped after the test), as README tells operators to.
 *
 * @returns its name and password.
 */
export async function mysqlCheckUser (t: TestContext, plugin = 'mysql_native_password'): Promise<{ user: string, password: string }> {
  const user = `hacheck_t${process.pid}_${Math.floor(Math.random() * 1e6)}`
  const password = `pw-${Math.random().toString(36).slice(2)}`
  const root = await needs(MARIADB, async () => await createConnection({ host: MYSQL.host, port: MYSQL.port, user: MYSQL.rootUser, password: MYSQL.rootPassword }))
  try {
    await root.query(`CREATE USER ?@'127.0.0.1' IDENTIFIED VIA ${plugin} USING PASSWORD(?)`, [user, password])
  } finally {
    await root.end()
  }
  t.after(async () => {
    const conn = await createConnection({ host: MYSQL.host, port: MYSQL.port, user: MYSQL.rootUser, password: MYSQL.rootPassword })
    try { await conn.query("DROP USER IF EXISTS ?@'127.0.0.1'", [user]) } finally { await conn.end() }
  })
  return { user, password }
}
