/**
 * Ranked, typo-tolerant search over practice names.
 *
 * Written by hand: the search libraries on the registry are either large
 * (full-text engines with stemming and scoring we do not need) or not
 * tolerant of typos in the way a practice picker needs (per-word
 * Damerau-Levenshtein with AND semantics and code-first ranking). The index
 * is a sorted word list with postings (prefix ranges by binary search), the
 * words bucketed by length with character-count masks (the fuzzy prefilter),
 * and each name as word ids, so later query words are checked against the
 * few names still in the running instead of the whole vocabulary.
 */

import {
  MAX_FUZZY_WORD, MAX_ITEMS, buildData, type IndexData, type Searchable
} from './tenant-search-data.js'
import { allowedTypos, boundedDistance, charMasks, lowerBound, masksWithin, normalizeWords } from './tenant-search-text.js'

export type { Searchable } from './tenant-search-data.js'
export { allowedTypos, boundedDistance, normalizeText, normalizeWords } from './tenant-search-text.js'

export const DEFAULT_SEARCH_LIMIT = 20
export const MAX_SEARCH_LIMIT = 100
/** Longer queries are cut: a practice name has ~5 words, 10 is plenty. */
const MAX_QUERY_WORDS = 10
const MAX_QUERY_CHARS = 256

/** Match costs: an exact word beats a prefix, a prefix beats a typo. */
const COST_EXACT = 0
const COST_PREFIX = 1
const COST_FUZZY = 2
const NO_MATCH = 127

/** A search index built once from a list of practices. */
export interface SearchIndex<T extends Searchable> {
  readonly size: number
  /** Ranked matches for `q`, at most `limit` (default 20, clamped to 1..100). */
  search: (q: string, limit?: number) => T[]
  /** Every item in alphabetical order of name. */
  sorted: () => readonly T[]
}

/** Clamps a requested result count to 1..100 (default 20 when absent or not a number). */
export function clampLimit (limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_SEARCH_LIMIT
  return Math.min(MAX_SEARCH_LIMIT, Math.max(1, Math.floor(limit)))
}

/** Stamps live in Int32Arrays: restart the generations before they overflow (about 2^31 query words). */
const GENERATION_LIMIT = 0x7fffffff

/**
 * Runs one query at a time (search is synchronous) over scratch arrays that
 * are reset by generation stamps instead of being cleared.
 */
class QueryRunner<T> {
  private readonly queryStamp: Int32Array
  private readonly matched: Int32Array
  private readonly totalCost: Int32Array
  private readonly wordStamp: Int32Array
  private readonly wordCost: Int32Array
  private lists: [Int32Array, Int32Array]
  private readonly vocabStamp: Int32Array
  private readonly vocabCost: Int8Array
  private queryGen = 0
  private wordGen = 0
  // The query word being matched.
  private word = ''
  private typos = 0
  private once = 0
  private twice = 0
  private start = 0
  private end = 0

  constructor (private readonly data: IndexData<T>, private readonly generationLimit: number) {
    const n = data.items.length
    this.queryStamp = new Int32Array(n)
    this.matched = new Int32Array(n)
    this.totalCost = new Int32Array(n)
    this.wordStamp = new Int32Array(n)
    this.wordCost = new Int32Array(n)
    this.lists = [new Int32Array(n), new Int32Array(n)]
    this.vocabStamp = new Int32Array(data.vocab.length)
    this.vocabCost = new Int8Array(data.vocab.length)
  }

  /** The vocabulary range that `word` prefixes. */
  private prefixRange (word: string): [number, number] {
    return [lowerBound(this.data.vocab, word), lowerBound(this.data.vocab, `${word}\uffff`)]
  }

  private setWord (word: string): void {
    if (this.wordGen >= this.generationLimit) {
      this.wordStamp.fill(0)
      this.vocabStamp.fill(0)
      this.wordGen = 0
    }
    this.wordGen++
    this.word = word
    this.typos = word.length <= MAX_FUZZY_WORD ? allowedTypos(word.length) : 0
    ;[this.once, this.twice] = charMasks(word)
    ;[this.start, this.end] = this.prefixRange(word)
  }

  /** Match cost of vocabulary word `w` against the current query word, or NO_MATCH. */
  private cost (w: number): number {
    if (w >= this.start && w < this.end) return this.data.vocab[w] === this.word ? COST_EXACT : COST_PREFIX
    if (this.typos === 0) return NO_MATCH
    const { once, twice, vocab } = this.data
    if (!masksWithin(this.once, this.twice, once[w] as number, twice[w] as number, this.typos)) return NO_MATCH
    const distance = boundedDistance(this.word, vocab[w] as string, this.typos)
    return distance <= this.typos ? COST_FUZZY + distance - 1 : NO_MATCH
  }

  /** Offers the postings of vocabulary word `w`; from the second query word on, only to items still in the running. */
  private offer (w: number, cost: number, wi: number, out: Int32Array, count: number): number {
    const { postStart, postings } = this.data
    const end = postStart[w + 1] as number
    for (let p = postStart[w] as number; p < end; p++) {
      const item = postings[p] as number
      if (wi > 0 && (this.queryStamp[item] !== this.queryGen || this.matched[item] !== wi)) continue
      if (this.wordStamp[item] !== this.wordGen) {
        this.wordStamp[item] = this.wordGen
        this.wordCost[item] = cost
        out[count++] = item
      } else if (cost < (this.wordCost[item] as number)) {
        this.wordCost[item] = cost
      }
    }
    return count
  }

  /** Matches the current word through the vocabulary: its prefix range, then same-length-ish words within the typo budget. */
  private scanVocabulary (wi: number, out: Int32Array): number {
    let count = 0
    for (let w = this.start; w < this.end; w++) count = this.offer(w, this.cost(w), wi, out, count)
    const { word, typos, once, twice, start, end } = this
    const { byLength, lengthOnce, lengthTwice, vocab } = this.data
    for (let len = word.length - typos; typos > 0 && len <= word.length + typos; len++) {
      const bucket = byLength[len]
      const bucketOnce = lengthOnce[len]
      const bucketTwice = lengthTwice[len]
      if (bucket === undefined || bucketOnce === undefined || bucketTwice === undefined) continue
      for (let k = 0; k < bucket.length; k++) {
        // The mask test first: it rejects most words for a few bit operations.
        if (!masksWithin(once, twice, bucketOnce[k] as number, bucketTwice[k] as number, typos)) continue
        const w = bucket[k] as number
        if (w >= start && w < end) continue
        const distance = boundedDistance(word, vocab[w] as string, typos)
        if (distance <= typos) count = this.offer(w, COST_FUZZY + distance - 1, wi, out, count)
      }
    }
    return count
  }

  /** Matches the current word against the names of the items still in the running (memoized per vocabulary word). */
  private scanCandidates (previous: Int32Array, previousCount: number, out: Int32Array): number {
    const { wordStart, nameWords } = this.data
    let count = 0
    for (let k = 0; k < previousCount; k++) {
      const item = previous[k] as number
      const first = wordStart[item] as number
      const last = wordStart[item + 1] as number
      let best = NO_MATCH
      for (let p = first; p < last; p++) {
        const w = nameWords[p] as number
        if (this.vocabStamp[w] !== this.wordGen) {
          this.vocabStamp[w] = this.wordGen
          this.vocabCost[w] = this.cost(w)
        }
        const cost = this.vocabCost[w] as number
        if (cost < best) best = cost
        if (best === COST_EXACT) break // nothing beats it
      }
      if (best === NO_MATCH) continue
      this.wordCost[item] = best
      out[count++] = item
    }
    return count
  }

  /** Work the vocabulary path would do for the current word: postings in its prefix range plus the fuzzy buckets. */
  private vocabularyWork (): number {
    let work = (this.data.postStart[this.end] as number) - (this.data.postStart[this.start] as number)
    for (let len = this.word.length - this.typos; this.typos > 0 && len <= this.word.length + this.typos; len++) {
      work += this.data.byLength[len]?.length ?? 0
    }
    return work
  }

  /** Items matching every word (AND), with summed costs; fewest prefix postings first. */
  rank (words: string[]): { items: Int32Array, count: number } {
    const { postStart } = this.data
    const plan = words.map((word) => {
      const [start, end] = this.prefixRange(word)
      const postingCount = (postStart[end] as number) - (postStart[start] as number)
      return { word, estimate: postingCount === 0 ? Number.MAX_SAFE_INTEGER : postingCount }
    }).sort((x, y) => x.estimate - y.estimate)
    if (this.queryGen >= this.generationLimit) {
      this.queryStamp.fill(0)
      this.queryGen = 0
    }
    this.queryGen++
    let [previous, out] = this.lists
    let count = 0
    for (let wi = 0; wi < plan.length; wi++) {
      this.setWord((plan[wi] as { word: string }).word)
      const viaNames = wi > 0 && count * this.data.averageWords < this.vocabularyWork()
      count = viaNames ? this.scanCandidates(previous, count, out) : this.scanVocabulary(wi, out)
      const first = wi === 0
      for (let k = 0; k < count; k++) {
        const item = out[k] as number
        this.queryStamp[item] = this.queryGen
        this.matched[item] = wi + 1
        this.totalCost[item] = (first ? 0 : this.totalCost[item] as number) + (this.wordCost[item] as number)
      }
      if (count === 0) break
      ;[previous, out] = [out, previous]
    }
    return { items: previous, count }
  }

  /**
   * One number orders matches: cost (exact word, then prefix, then typo),
   * then alphabetical, as a directory reads. Word position and name length
   * are deliberately not used: "cardio" matches 218 real practices, and
   * ranking first-word matches ahead would push a practice like "Advanced
   * Garden State Cardiology LLC" past the 100-result cap.
   */
  rankKey (item: number): number {
    const cost = Math.min(this.totalCost[item] as number, 127)
    return cost * MAX_ITEMS + item
  }
}

/**
 * Builds the index once (about 50 ms for 7k practices); each query then
 * touches only the words and names it can match.
 */
export function createSearchIndex<T extends Searchable> (
  input: readonly T[],
  options: { /** Tests only: restart generations sooner. */ generationLimit?: number } = {}
): SearchIndex<T> {
  const data = buildData(input)
  const runner = new QueryRunner(data, options.generationLimit ?? GENERATION_LIMIT)

  function search (q: string, limit?: number): T[] {
    const max = clampLimit(limit)
    const text = String(q ?? '').slice(0, MAX_QUERY_CHARS)
    const codeMatch = data.ids.get(text.trim().toUpperCase())
    const words = normalizeWords(text).slice(0, MAX_QUERY_WORDS)
    if (words.length === 0) {
      const first = data.items.slice(0, max)
      if (codeMatch === undefined) return first
      return [data.items[codeMatch] as T, ...first.filter((item) => item !== data.items[codeMatch])].slice(0, max)
    }
    // The best `max` keys in ascending order; most candidates are rejected by one compare.
    const best: number[] = codeMatch === undefined ? [] : [-1]
    const { items, count } = runner.rank(words)
    for (let k = 0; k < count; k++) {
      const item = items[k] as number
      if (item === codeMatch) continue
      const key = runner.rankKey(item)
      if (best.length === max && key >= (best[max - 1] as number)) continue
      let i = best.length < max ? best.length : max - 1
      while (i > 0 && (best[i - 1] as number) > key) {
        best[i] = best[i - 1] as number
        i--
      }
      best[i] = key
    }
    return best.map((key) => data.items[key === -1 ? codeMatch as number : key % MAX_ITEMS] as T)
  }

  return { size: data.items.length, search, sorted: () => data.items }
}
