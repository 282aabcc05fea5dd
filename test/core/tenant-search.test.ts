import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createDirectory, parseDirectory } from '../../core/directory.js'
import {
  DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, allowedTypos, boundedDistance, clampLimit, createSearchIndex,
  normalizeText, normalizeWords
} from '../../core/tenant-search.js'

const file = fileURLToPath(new URL('../fixtures/directory/search-practices.json', import.meta.url))
const { tenants } = parseDirectory(JSON.parse(readFileSync(file, 'utf8')))
const directory = createDirectory(tenants)
const names = (q: string, limit?: number): string[] => directory.search(q, limit).map((x) => x.name)

t.test('the fixture parses completely', async (t) => {
  t.equal(tenants.length, 16)
  t.equal(directory.size, 16)
})

t.test('normalizeText drops case, accents and punctuation', async (t) => {
  t.equal(normalizeText('Clínica Médica  San José'), 'clinica medica san jose')
  t.equal(normalizeText('St. Mary’s — ÜNÏCODE & Co.'), 'st marys unicode co')
  t.equal(normalizeText('ﬁrst Ｃare'), 'first care', 'compatibility forms fold (NFKD)')
  t.same(normalizeWords('  ...  '), [])
  t.same(normalizeWords('Cardio-Thoracic/Vascular, P.A.'), ['cardio', 'thoracic', 'vascular', 'p', 'a'])
})

t.test('boundedDistance is Damerau-Levenshtein (adjacent swaps count once), cut at the bound', async (t) => {
  t.equal(boundedDistance('rochster', 'rochester', 2), 1)
  t.equal(boundedDistance('pediatircs', 'pediatrics', 2), 1, 'a swap is one edit')
  t.equal(boundedDistance('kitten', 'sitting', 3), 3)
  t.equal(boundedDistance('kitten', 'sitting', 2), 3, 'max + 1 once past the bound')
  t.equal(boundedDistance('abc', 'abcdef', 1), 2, 'lengths alone rule it out')
  t.equal(boundedDistance('same', 'same', 0), 0)
  const long = 'x'.repeat(80)
  t.equal(boundedDistance(long, `${long}y`, 1), 1, 'longer than the preallocated rows')
})

t.test('typo allowance and limit clamping', async (t) => {
  t.same([3, 4, 7, 8, 12].map(allowedTypos), [0, 1, 1, 2, 2])
  t.equal(DEFAULT_SEARCH_LIMIT, 20)
  t.equal(MAX_SEARCH_LIMIT, 100)
  t.same([undefined, Number.NaN, 0, -5, 2.7, 50, 1000].map(clampLimit), [20, 20, 1, 1, 2, 50, 100])
})

t.test('accent-, case- and punctuation-insensitive', async (t) => {
  t.same(names('clinica'), ['Clínica Médica Hispana', 'Marcy Clinic', 'Mercy Clinic'])
  t.same(names('CLÍNICA médica'), ['Clínica Médica Hispana'])
  t.same(names('ROCHESTER skin'), names('rochester SKIN'))
  t.same(names('st marys'), ["St. Mary's Health Center"])
  t.same(names("St. Mary's"), ["St. Mary's Health Center"])
  t.same(names('pediatrics & adolescent'), ['Pediatrics & Adolescent Care'], 'the &amp; entity was decoded at load')
})

t.test('word prefixes match, exact words rank first', async (t) => {
  t.same(names('cardio'), ['Valley Heart Institute', 'Cardio Medical and Vein Center', 'Advanced Garden State Cardiology LLC'],
    'the practice whose code is CARDIO, then the exact word, then the prefix')
  t.same(names('clinic'), ['Marcy Clinic', 'Mercy Clinic', 'Clínica Médica Hispana'])
  t.same(names('adv gard'), ['Advanced Garden State Cardiology LLC'])
  t.same(names('s', 3), ['Advanced Garden State Cardiology LLC', 'Rochester Allergy and Asthma Specialists of New York', 'Rochester Skin Cancer and Surgery Center'],
    'one letter: prefix matches alphabetically')
})

t.test('typos: 1 for 4-7 letters, 2 for 8 and more', async (t) => {
  t.same(names('rochster skin'), ['Rochester Skin Cancer and Surgery Center', 'Skin Care of Rochester'])
  t.same(names('pediatircs'), ['Pediatrics & Adolescent Care'])
  t.same(names('mrecy'), ['Mercy Clinic'], 'a swap is one typo')
  t.same(names('mercy'), ['Mercy Clinic', 'Marcy Clinic'], 'exact before fuzzy')
  t.same(names('asociates'), ['Family Medicine Associates', 'Internal Medicine Associates of Florida'])
  t.same(names('rochstr'), [], 'two typos in a 7-letter word is too many')
  t.same(names('skn'), [], 'no typo allowance under 4 letters')
})

t.test('ranking: match quality, then alphabetical', async (t) => {
  t.same(names('medical group'), ['Medical Group of Zeta', 'Zeta Medical Group'])
  t.same(names('zeta'), ['Medical Group of Zeta', 'Zeta Medical Group'])
  t.same(names('rochester'), [
    'Rochester Allergy and Asthma Specialists of New York',
    'Rochester Family Medicine',
    'Rochester Skin Cancer and Surgery Center',
    'Skin Care of Rochester'
  ])
  t.same(names('roch'), names('rochester'), 'prefix matches of one quality read alphabetically too')
})

t.test('an exact practice code comes first', async (t) => {
  t.same(directory.search('aaa004').map((x) => x.id), ['AAA004'])
  t.same(directory.search(' AAA006 ').map((x) => x.id), ['AAA006'])
  t.same(directory.search('cardio', 1).map((x) => x.id), ['CARDIO'])
  t.same(directory.search('aaa004 rochester'), [], 'the code rule needs the whole query to be the code')
})

t.test('every query word must match (AND)', async (t) => {
  t.same(names('medicine rochester'), ['Rochester Family Medicine'])
  t.same(names('medicine zeta'), [])
  t.same(names('xyzzy'), [])
  t.same(names('rochester xyzzy'), [])
})

t.test('empty query lists practices alphabetically', async (t) => {
  t.same(names('', 3), ['Advanced Garden State Cardiology LLC', 'Cardio Medical and Vein Center', 'Clínica Médica Hispana'])
  t.same(names('  ?! ', 2), names('', 2))
  t.equal(directory.search('').length, 16)
})

t.test('limit: default 20, clamped to 1..100', async (t) => {
  const many = Array.from({ length: 150 }, (_, i) => ({ id: `H${String(i).padStart(3, '0')}`, name: `Health Center ${String(i).padStart(3, '0')}` }))
  const index = createSearchIndex(many)
  t.equal(index.search('health').length, 20)
  t.equal(index.search('health', 0).length, 1)
  t.equal(index.search('health', -3).length, 1)
  t.equal(index.search('health', 7).length, 7)
  t.equal(index.search('health', 1000).length, 100)
  t.equal(index.search('', 1000).length, 100)
  t.same(index.search('center', 3).map((x) => x.id), ['H000', 'H001', 'H002'], 'ties fall back to alphabetical order')
  t.same(index.search('h042', 5).map((x) => x.id), ['H042'], 'code match although no name word matches')
  t.same(index.search('h042 health', 2).map((x) => x.id), ['H042'], 'h042 is one typo from the name word 042')
})

t.test('edge cases: an empty index, a code made of punctuation', async (t) => {
  const empty = createSearchIndex([])
  t.equal(empty.size, 0)
  t.same(empty.search(''), [])
  t.same(empty.search('rochester'), [])
  const odd = createSearchIndex([{ id: 'B', name: 'Beta' }, { id: '__', name: 'Underscore Clinic' }, { id: 'A', name: 'Alpha' }])
  t.same(odd.search('__').map((x) => x.id), ['__', 'A', 'B'], 'the code first, then the alphabetical list')
  t.same(odd.search('__', 1).map((x) => x.id), ['__'])
})

t.test('very long queries are cut, not refused', async (t) => {
  t.same(names(`${'rochester '.repeat(10)}skin`), names('rochester'), 'words past the tenth are dropped')
  t.same(names('a'.repeat(5000)), [])
})

t.test('results stay the same when the scratch generations restart', async (t) => {
  const wrapping = createSearchIndex(tenants, { generationLimit: 3 })
  const normal = createSearchIndex(tenants)
  const queries = [
    'rochster skin', 'clinic', 'medicine rochester', 'cardio', 'zeta', 'rochester', 'medical group', 'mercy',
    'skin rochester', 'rochester skin cancer', 'family medicine', 'medicine family', 'care skin', 'center skin'
  ]
  for (let round = 0; round < 5; round++) {
    for (const q of queries) t.same(wrapping.search(q).map((x) => x.id), normal.search(q).map((x) => x.id), `${q} (round ${round})`)
  }
})
