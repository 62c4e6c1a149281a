/**
 * A local upstream for the benchmarks, on node:http as a typical service would be:
 * `/health` and `/probe` answer 200 `ok`, `/slow` answers 200 after 200 ms. Beside it a TCP
 * listener that accepts, counts and closes each connection (what a `tcp` probe reaches), and,
 * when given a key and certificate, an HTTPS listener with the same routes.
 *
 * `/__hits` answers the counts as JSON: by request path (both listeners), and `tcp` for the
 * TCP listener's connections; `/__ports` answers `{ "http", "tcp", "https" }` (https null
 * without a certificate). Neither is counted. Prints its http port on stdout.
 *
 * Usage: node dist/bench/servers/upstream.js [<key.pem> <cert.pem>]
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net'

const hits: Record<string, number> = { tcp: 0 }
const ports: { http: number, tcp: number, https: number | null } = { http: 0, tcp: 0, https: null }

function handle (req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/'
  if (path === '/__hits' || path === '/__ports') {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(path === '/__hits' ? hits : ports))
    return
  }
  hits[path] = (hits[path] ?? 0) + 1
  if (path === '/health' || path === '/probe') res.end('ok')
  else if (path === '/slow') setTimeout(() => { res.end('slow ok') }, 200)
  else res.writeHead(404).end('not found')
}

async function listen (server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

const tcp = createTcpServer((socket) => {
  hits.tcp = (hits.tcp ?? 0) + 1
  socket.on('error', () => {})
  socket.destroy()
})
ports.tcp = await listen(tcp)

const [keyFile, certFile] = process.argv.slice(2)
if (keyFile !== undefined && certFile !== undefined) {
  const https = createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, handle)
  ports.https = await listen(https)
}

const http = createServer(handle)
http.keepAliveTimeout = 60_000
ports.http = await listen(http)
process.stdout.write(`${ports.http}\n`)
