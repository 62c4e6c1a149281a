/**
 * An upstream HTTP body as hacheck keeps it: at most {@link MAX_BODY_BYTES} read off the socket,
 * decoded once into text that takes at most that much memory.
 */
import { isUtf8 } from 'node:buffer'

/**
 * Most bytes of an upstream body passed through; the rest is discarded. Also the most memory a
 * body takes once decoded (see {@link decodeBody}).
 */
export const MAX_BODY_BYTES = 64 * 1024

const BEYOND_LATIN1 = /[\u0100-\uffff]/

/** `bytes` without a UTF-8 sequence cut short at its end (the byte limit may fall inside one). */
function wholeCharacters (bytes: Buffer): Buffer {
  const n = bytes.length
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = bytes[n - back] as number
    if ((b & 0xc0) === 0x80) continue // a continuation byte: the sequence starts further back
    // Lead bytes: C2-DF start 2 bytes, E0-EF 3, F0-F4 4; anything else is whole (or invalid).
    const length = b >= 0xf5 || b < 0xc2 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2
    return length > back ? bytes.subarray(0, n - back) : bytes
  }
  return bytes
}

/**
 * An upstream body as text that takes at most {@link MAX_BODY_BYTES} of memory, decoded once.
 * V8 stores a string in one byte per character while every character is Latin-1, and in two as
 * soon as one is not (bytes that are not UTF-8 decode to U+FFFD, which is not). So a body is
 * kept whole (its first 64 KiB) when its text fits that way, and otherwise only its first
 * 32 KiB are decoded: a body that is not valid UTF-8 can no longer double in memory (nor in the
 * cache). A multi-byte character cut by a limit is dropped, not replaced.
 */
export function decodeBody (raw: Buffer): string {
  const bytes = wholeCharacters(raw.subarray(0, MAX_BODY_BYTES))
  const half = bytes.length > MAX_BODY_BYTES / 2 ? wholeCharacters(bytes.subarray(0, MAX_BODY_BYTES / 2)) : bytes
  if (!isUtf8(bytes)) return half.toString('utf8') // U+FFFD inside: two bytes per character
  const text = bytes.toString('utf8')
  if (text.length * 2 <= MAX_BODY_BYTES || !BEYOND_LATIN1.test(text)) return text
  return half.toString('utf8')
}

/**
 * Collects the first {@link MAX_BODY_BYTES} of a body from its chunks. One allocation for the
 * common one-chunk body.
 */
export class BodyCollector {
  private first: Buffer | undefined
  private rest: Buffer[] | undefined
  private size = 0

  /** Adds a chunk. @returns true once the limit is reached: read no more. */
  add (chunk: Buffer): boolean {
    if (this.first === undefined) this.first = chunk
    else (this.rest ??= [this.first]).push(chunk)
    this.size += chunk.length
    return this.size >= MAX_BODY_BYTES
  }

  /** The body as text, see {@link decodeBody}. */
  text (): string {
    if (this.first === undefined) return ''
    return decodeBody(this.rest === undefined ? this.first : Buffer.concat(this.rest))
  }
}
