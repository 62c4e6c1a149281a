/**
 * A gRPC health server (SERVING for every service) in a child process, answering with
 * hand-made messages, for the probe-cost and memory benchmarks.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from './procs.js'

/** A running gRPC health server. */
export interface GrpcServer {
  port: number
  pid: number
  stop: () => void
}

/** Starts the server on 127.0.0.1, pinned to `cpu` when given, and waits until it listens. */
export async function startGrpcServer (cpu?: number): Promise<GrpcServer> {
  const port = await freePort()
  const script = `
    const grpc = require('@grpc/grpc-js')
    const server = new grpc.Server()
    server.addService({ Check: { path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false,
      requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b } },
      { Check: (call, cb) => cb(null, Buffer.from([8, 1])) })
    server.bindAsync('127.0.0.1:${port}', grpc.ServerCredentials.createInsecure(), () => process.stdout.write('ready\\n'))`
  const node = [process.execPath, '-e', script]
  const [cmd, ...args] = cpu === undefined ? node : ['taskset', '-c', String(cpu), ...node]
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: fileURLToPath(new URL('../../../', import.meta.url)) })
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve)
    child.once('exit', (code) => { reject(new Error(`gRPC health server exited ${String(code)}`)) })
  })
  return { port, pid: child.pid as number, stop: () => { child.kill() } }
}
