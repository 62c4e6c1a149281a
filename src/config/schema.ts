/**
 * The building blocks of config key specs: what every section file (`checks.ts`, `server.ts`,
 * `spool.ts`, `agent.ts`, ...) uses to declare its keys. Pure declarations; no I/O.
 */
import type { TSchema } from '@sinclair/typebox'
import { HC_ERR_CONFIG } from '../errors.js'
import { Type } from './json-schema.js'

/** One config key: its schema (with default) and the human wording of the type for errors. */
export interface KeySpec {
  schema: TSchema
  /** Completes "key 'x' must be ...". */
  expected: string
  /** The default when the schema carries none (nullable keys). */
  default?: unknown
  /** For lists and mappings: what one entry must be, so an error names the bad one. */
  item?: string
  /** For mappings: what a key must be. */
  name?: string
  /**
   * What the key does, one or two sentences of Markdown for docs/configuration.md, which is
   * generated from these specs (`npm run docs`; a test fails when the file is out of date).
   * Links are relative to `docs/`.
   */
  description: string
  /** True for the keys Yelp's hacheck reads (same spelling and meaning); absent: ours. */
  reference?: true
}

/** What one entry of a CIDR list must be (for {@link KeySpec.item}). */
export const CIDR_ITEM = 'a CIDR network (address/prefix, e.g. 10.0.0.0/8; prefix at most 32 for IPv4, 128 for IPv6)'

/** `schema` or `null`. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/**
 * A network such as `10.0.0.0/8` or `fc00::/7`; a bare address means that one host (the `cidr`
 * format is registered on the validator in `index.ts`).
 */
export const Cidr = Type.String({ format: 'cidr' })

/** A header name as RFC 9110 allows it (a token). */
export const HeaderName = Type.String({ pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' })

/** Where in the config file something is: keys and list indexes from the top (`['groups', 'web', 0]`). */
export type ConfigPath = ReadonlyArray<string | number>

/**
 * An HC_ERR_CONFIG that also says where in the file the problem is written, so the config
 * entry point can add the line (see {@link configPathOf}).
 */
export function configErrorAt (message: string, path: ConfigPath): Error {
  return Object.assign(new HC_ERR_CONFIG(message), { configPath: path })
}

/** The path an error from {@link configErrorAt} carries, or undefined. */
export function configPathOf (err: unknown): ConfigPath | undefined {
  const path = (err as { configPath?: unknown } | null)?.configPath
  return Array.isArray(path) ? path as ConfigPath : undefined
}
