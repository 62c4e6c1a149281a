/**
 * A real gRPC server for the grpc/grpcs checker tests: grpc-js serving the standard health
 * service (grpc/grpc-proto `grpc/health/v1/health.proto`, loaded with @grpc/proto-loader, so the
 * server does not share the checker's hand-written codec), with statuses the test switches.
 * Plaintext or TLS (a self-signed certificate made with openssl at test time). Shut down after
 * the test.
 */
import { writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { tempDir } from './helper.js'
import { selfSignedCert } from './upstreams.js'

const HEALTH_PROTO = `syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
}
`

/** A running gRPC health server. */
export interface GrpcUpstream {
  port: number
  /** Service name ('' = the server) → status name (`SERVING`, `NOT_SERVING`, `UNKNOWN`); absent names answer NOT_FOUND. */
  statuses: Map<string, string>
  /** Health checks answered. */
  calls: () => number
  /** TCP connections accepted. */
  connections: () => number
  /** TCP connections open now. */
  open: () => number
}

/**
 * Starts a gRPC server on 127.0.0.1 implementing `grpc.health.v1.Health/Check`.
 *
 * @param opts.tls - serve TLS with a self-signed certificate.
 * @param opts.health - false: a gRPC server without the health service (UNIMPLEMENTED).
 */
export async function grpcUpstream (t: TestContext, opts: { tls?: boolean, health?: boolean } = {}): Promise<GrpcUpstream> {
  const dir = await tempDir(t, 'hacheck-grpc-')
  const protoFile = join(dir, 'health.proto')
  await writeFile(protoFile, HEALTH_PROTO)
  const loaded = grpc.loadPackageDefinition(loadSync(protoFile, { enums: String, defaults: true }))
  const health = ((loaded.grpc as grpc.GrpcObject).health as grpc.GrpcObject).v1 as grpc.GrpcObject
  const Health = health.Health as grpc.ServiceClientConstructor
  const statuses = new Map<string, string>([['', 'SERVING']])
  let calls = 0
  let connections = 0
  const server = new grpc.Server()
  if (opts.health !== false) {
    server.addService(Health.service, {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<{ status: string }>) => {
        calls++
        const status = statuses.get(call.request.service)
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' })
        else callback(null, { status })
      }
    })
  }
  const credentials = opts.tls === true
    ? grpc.ServerCredentials.createSsl(null, [await selfSignedCert(t).then((c) => ({ private_key: Buffer.from(c.key), cert_chain: Buffer.from(c.cert) }))], false)
    : grpc.ServerCredentials.createInsecure()
  // Our own listener hands each connection to grpc-js (its public connection injector), so the
  // test can count the TCP connections probes make.
  const injector = server.createConnectionInjector(credentials)
  const sockets = new Set<Socket>()
  const listener = createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    injector.injectConnection(socket)
  })
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const { port } = listener.address() as AddressInfo
  t.after(async () => {
    injector.destroy()
    server.forceShutdown()
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => listener.close(() => { resolve() }))
  })
  return { port, statuses, calls: () => calls, connections: () => connections, open: () => sockets.size }
}
