/**
 * Text primitives of the practice search: normalization, the typo budget,
 * a bounded Damerau-Levenshtein distance and a lossless character-count
 * prefilter. Written by hand; see `tenant-search.ts` for why.
 */

/**
 * Lower-case, accent-free, punctuation-free text (`"Clínica St. Mary's"` →
 * `"clinica st marys"`). NFKD splits accented letters into base + combining
 * mark, and the marks go; apostrophes join (`mary's` = `marys`).
 */
export function normalizeText (text: string): string {
  return text.normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’`]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
}

/** The words of {@link normalizeText}. */
export function normalizeWords (text: string): string[] {
  const normal = normalizeText(text)
  return normal === '' ? [] : normal.split(' ')
}

/** How many typos a query word may carry: 1 for 4-7 characters, 2 for 8 and more. */
export function allowedTypos (length: number): number {
  if (length >= 8) return 2
  return length >= 4 ? 1 : 0
}

let rowA = new Int32Array(64)
let rowB = new Int32Array(64)
let rowC = new Int32Array(64)

/**
 * Damerau-Levenshtein distance (optimal string alignment: insert, delete,
 * substitute, swap two neighbours) between `a` and `b`, or `max + 1` as soon
 * as it must exceed `max`. Only the diagonal band |i - j| <= max can hold a
 * cell within the bound, so each row computes 2 * max + 1 cells; cells just
 * outside the band hold `max + 1`. Three reused rows, no allocation per call.
 */
export function boundedDistance (a: string, b: string, max: number): number {
  const la = a.length
  const lb = b.length
  const over = max + 1
  if (Math.abs(la - lb) > max) return over
  if (lb + 2 > rowA.length) {
    rowA = new Int32Array(lb + 2)
    rowB = new Int32Array(lb + 2)
    rowC = new Int32Array(lb + 2)
  }
  let prev2 = rowA
  let prev = rowB
  let cur = rowC
  for (let j = 0; j <= lb; j++) prev[j] = j <= max ? j : over
  for (let i = 1; i <= la; i++) {
    const lo = i - max > 1 ? i - max : 1
    const hi = i + max < lb ? i + max : lb
    cur[lo - 1] = lo === 1 ? i : over
    let rowMin = lo === 1 ? i : over
    const ca = a.charCodeAt(i - 1)
    const caPrev = i > 1 ? a.charCodeAt(i - 2) : -1
    for (let j = lo; j <= hi; j++) {
      const cb = b.charCodeAt(j - 1)
      let d = (prev[j - 1] as number) + (ca === cb ? 0 : 1)
      const up = (prev[j] as number) + 1
      const left = (cur[j - 1] as number) + 1
      if (up < d) d = up
      if (left < d) d = left
      if (j > 1 && ca === b.charCodeAt(j - 2) && caPrev === cb) {
        const swap = (prev2[j - 2] as number) + 1
        if (swap < d) d = swap
      }
      cur[j] = d
      if (d < rowMin) rowMin = d
    }
    if (hi < lb) cur[hi + 1] = over
    if (rowMin > max) return over
    const spare = prev2
    prev2 = prev
    prev = cur
    cur = spare
  }
  const result = prev[lb] as number
  return result > max ? over : result
}

/**
 * Two 31-bit sets per word: characters present once or more, and twice or
 * more (characters hashed by code mod 31). Each edit changes one character
 * count by one, so the count surplus of one word over the other, which these
 * sets bound from below, never exceeds the distance. Hash collisions only
 * weaken the bound; no word within the distance is ever filtered out.
 */
export function charMasks (word: string): [once: number, twice: number] {
  let once = 0
  let twice = 0
  for (let i = 0; i < word.length; i++) {
    const bit = 1 << (word.charCodeAt(i) % 31)
    twice |= once & bit
    once |= bit
  }
  return [once, twice]
}

function popcount (n: number): number {
  n = n - ((n >>> 1) & 0x55555555)
  n = (n & 0x33333333) + ((n >>> 2) & 0x33333333)
  return (((n + (n >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

/** False when words with these {@link charMasks} cannot be within `max` typos of each other. */
export function masksWithin (once: number, twice: number, otherOnce: number, otherTwice: number, max: number): boolean {
  return popcount(once & ~otherOnce) + popcount(twice & ~otherTwice) <= max &&
    popcount(otherOnce & ~once) + popcount(otherTwice & ~twice) <= max
}

/** Index of the first word in `sorted` that is not less than `key`. */
export function lowerBound (sorted: readonly string[], key: string): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((sorted[mid] as string) < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
