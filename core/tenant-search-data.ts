import { charMasks, normalizeWords } from './tenant-search-text.js'

/** Word lengths the fuzzy matcher considers (longer words match exactly or by prefix only). */
export const MAX_FUZZY_WORD = 48
/** The ranking key packs the item index into the low 20 bits. */
export const MAX_ITEMS = 1 << 20

export interface Searchable { id: string, name: string }

/** The precomputed search index over a list of practices (see `tenant-search.ts`). */
export interface IndexData<T> {
  items: T[]
  ids: Map<string, number>
  /** Distinct name words, sorted: a prefix is a contiguous range. */
  vocab: string[]
  once: Int32Array
  twice: Int32Array
  /** Vocabulary ids by word length, for the fuzzy scan, with their masks side by side. */
  byLength: Int32Array[]
  lengthOnce: Int32Array[]
  lengthTwice: Int32Array[]
  postStart: Int32Array
  /** Per posting: the index of an item whose name holds the word, once per item, ascending. */
  postings: Int32Array
  /** Each name as vocabulary ids in word order, item `i` at `nameWords[wordStart[i]..wordStart[i + 1]]`. */
  wordStart: Int32Array
  nameWords: Int32Array
  averageWords: number
}

export function buildData<T extends Searchable> (input: readonly T[]): IndexData<T> {
  if (input.length >= MAX_ITEMS) throw new RangeError(`search index holds at most ${MAX_ITEMS - 1} items`)
  const keyed = input.map((item) => {
    const words = normalizeWords(item.name)
    return { item, words, normal: words.join(' ') }
  })
  const compare = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0)
  keyed.sort((x, y) => compare(x.normal, y.normal) || compare(x.item.id, y.item.id))
  const postingLists = new Map<string, number[]>()
  keyed.forEach(({ words }, index) => {
    for (const word of words) {
      let list = postingLists.get(word)
      if (list === undefined) postingLists.set(word, list = [])
      if (list[list.length - 1] !== index) list.push(index) // a word repeated in a name is posted once
    }
  })
  const vocab = [...postingLists.keys()].sort()
  const vocabId = new Map(vocab.map((word, w) => [word, w]))
  const postStart = new Int32Array(vocab.length + 1)
  const postings = new Int32Array([...postingLists.values()].reduce((n, l) => n + l.length, 0))
  const once = new Int32Array(vocab.length)
  const twice = new Int32Array(vocab.length)
  const lengthLists: number[][] = []
  vocab.forEach((word, w) => {
    postings.set(postingLists.get(word) as number[], postStart[w] as number)
    postStart[w + 1] = (postStart[w] as number) + (postingLists.get(word) as number[]).length
    ;[once[w], twice[w]] = charMasks(word)
    if (word.length <= MAX_FUZZY_WORD + 2) (lengthLists[word.length] ??= []).push(w)
  })
  const wordStart = new Int32Array(keyed.length + 1)
  keyed.forEach(({ words }, index) => { wordStart[index + 1] = (wordStart[index] as number) + words.length })
  const nameWords = Int32Array.from(keyed.flatMap(({ words }) => words.map((word) => vocabId.get(word) as number)))
  return {
    items: keyed.map((k) => k.item),
    ids: new Map(keyed.map((k, index) => [k.item.id.toUpperCase(), index])),
    vocab,
    once,
    twice,
    byLength: Array.from({ length: lengthLists.length }, (_, l) => Int32Array.from(lengthLists[l] ?? [])),
    lengthOnce: Array.from({ length: lengthLists.length }, (_, l) => Int32Array.from(lengthLists[l] ?? [], (w) => once[w] as number)),
    lengthTwice: Array.from({ length: lengthLists.length }, (_, l) => Int32Array.from(lengthLists[l] ?? [], (w) => twice[w] as number)),
    postStart,
    postings,
    wordStart,
    nameWords,
    averageWords: keyed.length === 0 ? 1 : Math.max(1, nameWords.length / keyed.length)
  }
}
