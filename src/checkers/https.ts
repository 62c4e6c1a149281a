/**
 * The `https` protocol: as `http` over TLS. Certificates are not verified (the reference does
 * not either: a check proves the service answers, not that its certificate is valid); SNI is
 * the copied Host header. A TLS handshake failure reports `L6RSP`, a handshake timeout `L6TOUT`.
 */
import { httpChecker } from './http.js'

/** The `https` protocol (see the file's description). */
export const https = httpChecker('https')
