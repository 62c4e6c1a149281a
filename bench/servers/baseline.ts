/**
 * The baseline: the least a Fastify server can do for a check URL. Same route shape as hacheck's
 * check route, no logger, answers 200 with an empty body. Prints its port on stdout.
 *
 * Usage: node dist/bench/servers/baseline.js
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/:protocol/:service/:port/*', async (_request, reply) => await reply.type('text/html; charset=UTF-8').send(''))
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`)
