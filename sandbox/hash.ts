/**
 * Deterministic randomness: every generated value is a pure function of its
 * inputs, so resource i of a record can be rebuilt on demand and a record of
 * any size never sits in memory.
 */

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** A 32-bit hash of the joined parts (FNV-1a with a final avalanche). */
export function hash32 (...parts: Array<string | number>): number {
  const text = parts.join('\u0001')
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** One item of a non-empty list, chosen by a hash. */
export function pick<T> (list: readonly T[], h: number): T {
  const item = list[h % list.length]
  if (item === undefined) throw new Error('pick from an empty list')
  return item
}

/** An integer in [min, max], chosen by a hash. */
export function between (h: number, min: number, max: number): number {
  return min + (h % (max - min + 1))
}

/** `length` base62 characters derived from the parts (opaque-looking ids). */
export function opaqueText (length: number, ...parts: Array<string | number>): string {
  let out = ''
  let round = 0
  while (out.length < length) {
    let h = hash32(...parts, round++)
    for (let k = 0; k < 5 && out.length < length; k++) {
      out += BASE62[h % 62]
      h = Math.floor(h / 62)
    }
  }
  return out
}
