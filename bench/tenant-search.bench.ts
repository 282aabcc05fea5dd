/**
 * Practice search: the precomputed index against a naive linear scan
 * (normalize every name, substring-match every query word) over the 6,918
 * shipped practices, the same queries in the same process. A second
 * baseline normalizes the names once and scans substrings only. Neither
 * baseline tolerates typos, so they do less than the index does.
 *
 *   npx tsx bench/tenant-search.bench.ts
 */
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { loadDirectory, type Tenant } from '../core/directory.js'
import { normalizeText, normalizeWords } from '../core/tenant-search.js'

// The naive scan takes milliseconds per query: fewer rounds keep the run short.
const INDEX_ROUNDS = { warmup: 50, measured: 500 }
const NAIVE_ROUNDS = { warmup: 2, measured: 15 }
const LIMIT = 20

const QUERIES = [
  'IAJHCD', 'jafjcd', 'GGAICD', // exact practice codes
  'cardio', 'ped', 'a', 'fam med', 'ortho', // prefixes
  'rochster skin', 'pediatircs', 'famly medicine', 'internl medicne', 'dermatolgy', // typos
  'internal medicine associates', 'rochester skin cancer', 'women health center', 'castaner', 'clínica', // multi-word, accents
  'zzqx vvkk', 'xylophone' // no match
]

/** The baseline: what a first version without an index would do on every request. */
function searchNaive (tenants: readonly Tenant[], q: string, limit: number): Tenant[] {
  const words = normalizeWords(q)
  const code = q.trim().toUpperCase()
  const hits: Tenant[] = []
  for (const tenant of tenants) {
    if (tenant.id === code) { hits.unshift(tenant); continue }
    const name = normalizeText(tenant.name)
    if (words.length > 0 && words.every((w) => name.includes(w))) hits.push(tenant)
  }
  return hits.slice(0, limit)
}

/** A fairer second baseline: names normalized once, then the same substring scan. */
function createPrenormalizedScan (tenants: readonly Tenant[]): (q: string, limit: number) => Tenant[] {
  const names = tenants.map((tenant) => normalizeText(tenant.name))
  return (q, limit) => {
    const words = normalizeWords(q)
    const code = q.trim().toUpperCase()
    const hits: Tenant[] = []
    tenants.forEach((tenant, i) => {
      if (tenant.id === code) hits.unshift(tenant)
      else if (words.length > 0 && words.every((w) => (names[i] as string).includes(w))) hits.push(tenant)
    })
    return hits.slice(0, limit)
  }
}

function measure (run: (q: string) => unknown, rounds: { warmup: number, measured: number }): { mean: number, p99: number } {
  for (let r = 0; r < rounds.warmup; r++) for (const q of QUERIES) run(q)
  const samples = new Float64Array(rounds.measured * QUERIES.length)
  let i = 0
  for (let r = 0; r < rounds.measured; r++) {
    for (const q of QUERIES) {
      const start = performance.now()
      run(q)
      samples[i++] = (performance.now() - start) * 1000
    }
  }
  samples.sort()
  const mean = samples.reduce((sum, x) => sum + x, 0) / samples.length
  const p99 = samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))] as number
  return { mean, p99 }
}

const loadStart = performance.now()
const directory = await loadDirectory()
const loadMs = performance.now() - loadStart
const tenants = [...directory.all()]

const indexed = measure((q) => directory.search(q, LIMIT), INDEX_ROUNDS)
const naive = measure((q) => searchNaive(tenants, q, LIMIT), NAIVE_ROUNDS)
const scanPrenormalized = createPrenormalizedScan(tenants)
const prenormalized = measure((q) => scanPrenormalized(q, LIMIT), INDEX_ROUNDS)

const row = (name: string, m: { mean: number, p99: number }): string =>
  `${name.padEnd(30)}${m.mean.toFixed(1).padStart(10)}${m.p99.toFixed(1).padStart(10)}`

console.log(`tenant search: ${directory.size} practices, ${QUERIES.length} queries, ${INDEX_ROUNDS.measured} rounds (index) / ${NAIVE_ROUNDS.measured} (naive), limit ${LIMIT}`)
console.log(`directory load + index build: ${loadMs.toFixed(0)} ms; machine load ${(loadavg()[0] ?? 0).toFixed(1)} on ${cpus().length} CPUs (figures grow with it)`)
console.log(`${'implementation'.padEnd(30)}${'mean µs'.padStart(10)}${'p99 µs'.padStart(10)}`)
console.log(row('index (typo-tolerant)', indexed))
console.log(row('naive scan (normalize+substr)', naive))
console.log(row('pre-normalized substr scan', prenormalized))
console.log(`ratio (naive / index): mean ${(naive.mean / indexed.mean).toFixed(1)}x, p99 ${(naive.p99 / indexed.p99).toFixed(1)}x`)
console.log(`ratio (pre-normalized / index): mean ${(prenormalized.mean / indexed.mean).toFixed(1)}x, p99 ${(prenormalized.p99 / indexed.p99).toFixed(1)}x`)
