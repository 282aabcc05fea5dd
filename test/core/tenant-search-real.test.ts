import t from 'tap'
import { normalizeWords } from '../../core/tenant-search.js'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadDirectory, type Directory } from '../../core/directory.js'

// Real Healow data lives beside the repository; a clone without it skips these checks.
const bundleFile = fileURLToPath(new URL('../../../shared/data/healow-directory-bundle.json', import.meta.url))
const arrayFile = fileURLToPath(new URL('../../../shared/data/healow-r4-endpoints.json', import.meta.url))
const skip = existsSync(bundleFile) && existsSync(arrayFile) ? false : 'real Healow data (../shared/data) is absent'

function createLog () {
  const warnings: unknown[][] = []
  return { warnings, info: () => {}, warn: (...args: unknown[]) => { warnings.push(args) } }
}

t.test('the published directory Bundle', { skip }, async (t) => {
  const log = createLog()
  const directory: Directory = await loadDirectory({ tenantsFile: bundleFile, tenantsMode: 'replace', log })
  // 13,836 entries = 6,918 Endpoint + Organization pairs, all well formed.
  t.equal(directory.size, 6918)
  t.same(log.warnings, [])
  t.same(directory.get('IAJHCD'), {
    id: 'IAJHCD',
    name: 'Rochester Skin Cancer and Surgery Center',
    url: 'https://fhir4.healow.com/fhir/r4/IAJHCD',
    authorize: 'https://oauthserver.eclinicalworks.com/oauth/oauth2/authorize',
    token: 'https://oauthserver.eclinicalworks.com/oauth/oauth2/token'
  })

  t.equal(directory.search('rochster skin')[0]?.name, 'Rochester Skin Cancer and Surgery Center')
  t.equal(directory.search('IAJHCD')[0]?.id, 'IAJHCD')
  t.equal(directory.search('iajhcd')[0]?.id, 'IAJHCD')
  t.equal(directory.search('castaner')[0]?.name, 'Hospital General Castañer INC')

  // "cardio" prefixes 218 names: the exact word first, then word-prefix matches alphabetically,
  // which puts "Advanced Garden State Cardiology LLC" on the first page.
  const cardio = directory.search('cardio', 100)
  t.equal(cardio.length, 100)
  t.ok(cardio.every((x) => /\bcardi/i.test(x.name)), 'every hit has a cardio-like word')
  t.same(cardio.slice(0, 4).map((x) => x.name), [
    'Cardio Medical and Vein Center',
    'Cardio Metabolic Institute & Central Jersey Sports and Spine',
    'Consultants in Cardio-Thoracic and Vascular Surgery, P.A.',
    'High Desert Cardio Pulmonary Medical Group'
  ])
  const rest = cardio.slice(4).map((x) => normalizeWords(x.name).join(' '))
  t.same(rest, [...rest].sort(), 'prefix matches read alphabetically')
  t.ok(directory.search('cardio').some((x) => x.name === 'Advanced Garden State Cardiology LLC'), '"cardio" finds Advanced Garden State Cardiology LLC on the default page')
  t.equal(directory.search('cardio garden')[0]?.name, 'Advanced Garden State Cardiology LLC')
  t.ok(directory.search('advanced cardio').some((x) => x.name === 'Advanced Garden State Cardiology LLC'))
  t.same(directory.search('zzqx vvkk'), [])
})

t.test('the plain array of real practices', { skip }, async (t) => {
  const directory = await loadDirectory({ tenantsFile: arrayFile, tenantsMode: 'replace' })
  // The array has the 6,918 published practices plus one sandbox alias.
  t.equal(directory.size, 6919)
  t.equal(directory.get('sandbox_healow')?.url, 'https://fhir4.healow.com/fhir/r4/JAFJCD')
  t.same(directory.search('sandbox', 3).map((x) => x.id).sort(), ['FFBJCD', 'SANDBOX_HEALOW'])
})
