/**
 * A local upstream for the benchmarks, on node:http as a typical service would be:
 * `/health` answers 200 `ok`, `/slow` answers 200 after 200 ms, `/__hits` answers the request
 * counts by path as JSON (not counted). Prints its port on stdout.
 *
 * Usage: node dist/bench/servers/upstream.js
 */
import { createServer } from 'node:http'

const hits: Record<string, number> = {}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0] ?? '/'
  if (path === '/__hits') {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(hits))
    return
  }
  hits[path] = (hits[path] ?? 0) + 1
  if (path === '/health') res.end('ok')
  else if (path === '/slow') setTimeout(() => { res.end('slow ok') }, 200)
  else res.writeHead(404).end('not found')
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`)
})
