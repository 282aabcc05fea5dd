import t, { type Test } from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseDirectory, type Tenant } from '../../core/directory.js'
import { allowedTypos, boundedDistance, createSearchIndex, normalizeWords } from '../../core/tenant-search.js'

// The index against a brute-force reference of the same rules, on generated
// queries (prefixes, typos, swaps, several words): any pruning or ordering
// shortcut in the index that changes a result shows up here.

const fixtureFile = fileURLToPath(new URL('../fixtures/directory/search-practices.json', import.meta.url))
const realFile = fileURLToPath(new URL('../../../shared/data/healow-r4-endpoints.json', import.meta.url))

function wordCost (query: string, word: string): number {
  if (word === query) return 0
  if (word.startsWith(query)) return 1
  const typos = allowedTypos(query.length)
  if (typos === 0) return Infinity
  const distance = boundedDistance(query, word, typos)
  return distance <= typos ? 1 + distance : Infinity
}

type Named = Tenant & { nameWords: string[] }

function referenceSearch (tenants: readonly Named[], q: string, limit: number): string[] {
  const words = normalizeWords(q).slice(0, 10)
  const rows: Array<{ id: string, key: Array<number | string> }> = []
  for (const tenant of tenants) {
    const nameWords = tenant.nameWords
    const normal = nameWords.join(' ')
    let cost = 0
    for (const query of words) {
      let best = Infinity
      for (const word of nameWords) best = Math.min(best, wordCost(query, word))
      cost += best
    }
    if (cost !== Infinity) rows.push({ id: tenant.id, key: words.length === 0 ? [normal, tenant.id] : [cost, normal, tenant.id] })
  }
  rows.sort((x, y) => {
    for (let i = 0; i < x.key.length; i++) {
      const a = x.key[i] as number | string
      const b = y.key[i] as number | string
      if (a !== b) return a < b ? -1 : 1
    }
    return 0
  })
  const code = q.trim().toUpperCase()
  const ids = rows.map((r) => r.id).filter((id) => id !== code)
  return (tenants.some((x) => x.id === code) ? [code, ...ids] : ids).slice(0, limit)
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function createRandom (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function mutate (word: string, random: () => number): string {
  const i = Math.floor(random() * word.length)
  const letter = String.fromCharCode(97 + Math.floor(random() * 26))
  switch (Math.floor(random() * 6)) {
    case 0: return word.slice(0, Math.max(1, i)) // prefix
    case 1: return word.slice(0, i) + letter + word.slice(i + 1) // substitution
    case 2: return word.slice(0, i) + word.slice(i + 1) // deletion
    case 3: return word.slice(0, i) + letter + word.slice(i) // insertion
    case 4: return i + 1 < word.length ? word.slice(0, i) + (word[i + 1] as string) + (word[i] as string) + word.slice(i + 2) : word // swap
    default: return word
  }
}

function generateQueries (tenants: readonly Tenant[], count: number, seed: number): string[] {
  const random = createRandom(seed)
  const queries: string[] = ['', 'a', 'zzqx']
  while (queries.length < count) {
    const tenant = tenants[Math.floor(random() * tenants.length)] as Tenant
    if (random() < 0.05) { queries.push(tenant.id.toLowerCase()); continue }
    const words = normalizeWords(tenant.name)
    const picked = words.filter(() => random() < 0.5).slice(0, 3)
    if (picked.length === 0) picked.push(words[0] ?? 'x')
    queries.push(picked.map((w) => mutate(random() < 0.5 ? mutate(w, random) : w, random)).join(' '))
  }
  return queries
}

function compare (t: Test, tenants: Tenant[], queries: string[]): void {
  const index = createSearchIndex(tenants)
  const named = tenants.map((tenant) => ({ ...tenant, nameWords: normalizeWords(tenant.name) }))
  let mismatches = 0
  for (const q of queries) {
    const got = index.search(q, 20).map((x) => x.id)
    const want = referenceSearch(named, q, 20)
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      mismatches++
      if (mismatches <= 3) t.same(got, want, `query ${JSON.stringify(q)}`)
    }
  }
  t.equal(mismatches, 0, `${queries.length} queries agree with the reference`)
}

t.test('index agrees with the brute-force reference on the fixture', async (t) => {
  const { tenants } = parseDirectory(JSON.parse(readFileSync(fixtureFile, 'utf8')))
  compare(t, tenants, generateQueries(tenants, 400, 7))
})

t.test('index agrees with the brute-force reference on the real directory', { skip: existsSync(realFile) ? false : 'real Healow data (../shared/data) is absent' }, async (t) => {
  const { tenants } = parseDirectory(JSON.parse(readFileSync(realFile, 'utf8')))
  compare(t, tenants, generateQueries(tenants, 250, 42))
})
