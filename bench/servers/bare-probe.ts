/**
 * The probe ceiling: the least a Fastify server can do to answer a check with a real probe. One
 * fresh-connection `node:http` GET (`agent: false`, so `Connection: close`) to the upstream per
 * request, its body passed back; no cache, spool, limits, timeouts or bookkeeping. hacheck's
 * one-probe-per-request rows are read against it. Prints its port on stdout.
 *
 * Usage: node dist/bench/servers/bare-probe.js <upstream port>
 */
import Fastify from 'fastify'
import { request } from 'node:http'

const upstreamPort = Number(process.argv[2])
const app = Fastify({ logger: false })
app.get('/:protocol/:service/:port/*', (_request, reply) => {
  const req = request({ host: '127.0.0.1', port: upstreamPort, path: '/probe', agent: false }, (res) => {
    const chunks: Buffer[] = []
    res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
    res.on('end', () => { reply.code(res.statusCode ?? 503).type('text/html; charset=UTF-8').send(Buffer.concat(chunks).toString()) })
  })
  req.on('error', (err) => { reply.code(503).send(err.message) })
  req.end()
})
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`)
