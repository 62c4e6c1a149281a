/**
 * CIDR networks as config values (`10.0.0.0/8`, `fc00::/7`, or a bare address meaning one
 * host), and allow-lists built from them on node:net's `BlockList`.
 *
 * Imports no Fastify: the config loader validates with it.
 */
import { BlockList, isIP } from 'node:net'

/** A parsed network: base address, prefix length and family. */
export interface Cidr {
  address: string
  prefix: number
  family: 'ipv4' | 'ipv6'
}

/**
 * Parses `ADDR/PREFIX` or a bare `ADDR` (a /32 or /128). IPv6 may be written in brackets.
 *
 * @returns the network, or `null` when the text is not an address or the prefix is out of
 *   range (0-32 for IPv4, 0-128 for IPv6).
 */
export function parseCidr (text: string): Cidr | null {
  const slash = text.indexOf('/')
  let address = (slash === -1 ? text : text.slice(0, slash)).trim()
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1)
  const version = isIP(address)
  if (version === 0) return null
  const max = version === 4 ? 32 : 128
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1).trim()
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) return null
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' }
}

/** An allow-list of networks: {@link AllowList.allows} is true for an address inside any of them. */
export class AllowList {
  private readonly list = new BlockList()
  /** The networks as given, for messages. */
  readonly networks: readonly string[]

  /**
   * @param networks - CIDR strings (see {@link parseCidr}).
   * @throws TypeError naming the first entry that is not a network (the config schema
   *   rejects those before this runs).
   */
  constructor (networks: readonly string[]) {
    this.networks = [...networks]
    for (const text of networks) {
      const cidr = parseCidr(text)
      if (cidr === null) throw new TypeError(`not a CIDR network: ${JSON.stringify(text)}`)
      this.list.addSubnet(cidr.address, cidr.prefix, cidr.family)
    }
  }

  /**
   * True when `address` (an IP literal; IPv4-mapped IPv6 counts as its IPv4 address) is
   * inside one of the networks. Anything that is not an IP literal is not allowed.
   */
  allows (address: string): boolean {
    const version = isIP(address)
    if (version === 0) return false
    return this.list.check(address, version === 4 ? 'ipv4' : 'ipv6')
  }
}
