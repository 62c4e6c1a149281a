/**
 * The two messages of gRPC's standard health protocol (grpc/grpc-proto
 * `grpc/health/v1/health.proto`), in protobuf wire format:
 *
 * ```proto
 * message HealthCheckRequest { string service = 1; }
 * message HealthCheckResponse {
 *   enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
 *   ServingStatus status = 1;
 * }
 * ```
 *
 * Written out rather than loaded through @grpc/proto-loader: one string field out, one enum
 * field in, and protobufjs would otherwise be loaded (and a .proto file shipped) for them.
 * The decoder skips unknown fields, as protobuf requires, and rejects anything malformed.
 */
import { HC_ERR_GRPC_RESPONSE } from '../errors.js'

/** The method a health check calls. */
export const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check'

/** `ServingStatus` names by number. */
export const SERVING_STATUS: readonly string[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN']

/** SERVING: the only status that passes. */
export const SERVING = 1

function varint (value: number): number[] {
  const bytes: number[] = []
  let rest = value
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80)
    rest = Math.floor(rest / 128)
  }
  bytes.push(rest)
  return bytes
}

/** Encodes `HealthCheckRequest { service }`; the empty service (the server as a whole) is zero bytes. */
export function encodeHealthCheckRequest (service: string): Buffer {
  const name = Buffer.from(service, 'utf8')
  if (name.length === 0) return Buffer.alloc(0)
  return Buffer.concat([Buffer.from([0x0a, ...varint(name.length)]), name])
}

/** Reads a varint at `at`; at most 10 bytes, as protobuf allows. */
function readVarint (buf: Buffer, at: number): { value: number, next: number } {
  let value = 0
  let scale = 1
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const byte = buf[i] as number
    value += (byte & 0x7f) * scale
    scale *= 128
    if ((byte & 0x80) === 0) return { value, next: i + 1 }
  }
  throw new HC_ERR_GRPC_RESPONSE('truncated varint')
}

/**
 * Decodes `HealthCheckResponse` to its status number (0, UNKNOWN, when absent, as proto3
 * defaults). Unknown fields are skipped.
 *
 * @throws HC_ERR_GRPC_RESPONSE on malformed input (truncated field, unknown wire type, status not a varint).
 */
export function decodeHealthCheckResponse (buf: Buffer): number {
  let status = 0
  let at = 0
  while (at < buf.length) {
    const key = readVarint(buf, at)
    at = key.next
    const field = Math.floor(key.value / 8)
    const wireType = key.value % 8
    if (wireType === 0) {
      const v = readVarint(buf, at)
      at = v.next
      if (field === 1) status = v.value
    } else if (wireType === 2) {
      const length = readVarint(buf, at)
      at = length.next + length.value
    } else if (wireType === 1) {
      at += 8
    } else if (wireType === 5) {
      at += 4
    } else {
      throw new HC_ERR_GRPC_RESPONSE(`wire type ${wireType}`)
    }
    if (field === 1 && wireType !== 0) throw new HC_ERR_GRPC_RESPONSE('status is not a varint')
    if (at > buf.length) throw new HC_ERR_GRPC_RESPONSE('truncated field')
  }
  return status
}

/** The name of a status number (`SERVING`), or `status <n>` for one the proto does not define. */
export function servingStatusName (status: number): string {
  return SERVING_STATUS[status] ?? `status ${status}`
}
