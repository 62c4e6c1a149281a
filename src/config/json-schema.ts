/**
 * The JSON Schema builders the config key table is declared with: the part of TypeBox's `Type`
 * the section files use (`String`, `Integer`, `Number`, `Boolean`, `Null`, `Literal`, `Array`,
 * `Union`, `Object`, `Optional`, `Record`), with TypeBox's own static types (imported as types
 * only, so `Static<...>` still derives {@link Config}) and the same JSON Schema output, which
 * Ajv validates.
 *
 * Why not TypeBox's runtime: loading it costs every hacheck process about 5 MB of resident
 * memory (its ESM build is some 300 modules) to build some 50 small schema objects once at
 * start-up (bench/RESULTS.md, "Round 3"). Pure functions; no state.
 */
import type {
  ArrayOptions, IntegerOptions, NumberOptions, ObjectOptions, SchemaOptions, StringOptions, TArray, TBoolean, TInteger,
  TLiteral, TLiteralValue, TNull, TNumber, TObject, TOptional, TProperties, TRecordOrObject, TSchema, TString, TUnion
} from '@sinclair/typebox'

/** Marks a property schema as optional for {@link Type.Object} (a symbol: Ajv never sees it). */
const OPTIONAL = Symbol('optional')

/** A plain JSON Schema object given the TypeBox type that describes it. */
function as<T> (schema: object): T {
  return schema as T
}

/** Builders with TypeBox's signatures and output (TypeBox 0.34 `Type.*`). */
export const Type = {
  String: (options: StringOptions = {}): TString => as({ ...options, type: 'string' }),
  Integer: (options: IntegerOptions = {}): TInteger => as({ ...options, type: 'integer' }),
  Number: (options: NumberOptions = {}): TNumber => as({ ...options, type: 'number' }),
  Boolean: (options: SchemaOptions = {}): TBoolean => as({ ...options, type: 'boolean' }),
  Null: (options: SchemaOptions = {}): TNull => as({ ...options, type: 'null' }),
  Literal: <T extends TLiteralValue>(value: T, options: SchemaOptions = {}): TLiteral<T> => as({ ...options, const: value, type: typeof value }),
  Array: <T extends TSchema>(items: T, options: ArrayOptions = {}): TArray<T> => as({ ...options, type: 'array', items }),
  Union: <T extends TSchema[]>(types: [...T], options: SchemaOptions = {}): TUnion<T> => as({ ...options, anyOf: types }),
  /** A property of {@link Type.Object} that may be absent. */
  Optional: <T extends TSchema>(schema: T): TOptional<T> => as({ ...schema, [OPTIONAL]: true }),
  Object: <T extends TProperties>(properties: T, options: ObjectOptions = {}): TObject<T> => {
    const required = Object.keys(properties).filter((name) => !(OPTIONAL in (properties[name] as object)))
    return as({ ...options, type: 'object', properties, ...(required.length > 0 ? { required } : {}) })
  },
  /** A mapping whose names match `key`'s `pattern` (any name without one) and whose values match `value`. */
  Record: <K extends TSchema, V extends TSchema>(key: K, value: V, options: ObjectOptions = {}): TRecordOrObject<K, V> => {
    const pattern = typeof key.pattern === 'string' ? key.pattern : '^(.*)$'
    return as({ ...options, type: 'object', patternProperties: { [pattern]: value } })
  }
}
