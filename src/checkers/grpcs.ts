/**
 * (ours) The `grpcs` protocol: as `grpc` over TLS (ALPN `h2`). Certificates are not verified
 * (a check proves the service answers, not that its certificate is valid, as `https`); SNI is
 * the target's host name when it has one. A TLS handshake failure reports `L6RSP`, a handshake
 * timeout `L6TOUT`.
 */
import { grpcChecker } from './grpc.js'

/** The `grpcs` protocol (see the file's description). */
export const grpcs = grpcChecker(true)
