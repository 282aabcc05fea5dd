import t from 'tap'
import { CARE_TEAM_STATUSES, OBSERVATION_CATEGORIES } from '../../sandbox/index.js'
import { fhirGet, pageAll, useSandbox } from './helpers.js'

const BY_PATIENT = ['AllergyIntolerance', 'Condition', 'Device', 'DiagnosticReport', 'DocumentReference', 'Encounter', 'Goal', 'Immunization', 'MedicationRequest', 'Procedure'] as const

/** The searches that work at Healow, as a syncing client would run them. */
function healowPlan (patientId: string, count: number): Array<{ type: string, query: string, part?: string }> {
  const p = encodeURIComponent(patientId)
  return [
    ...BY_PATIENT.map((type) => ({ type, query: `/${type}?patient=${p}&_count=${count}` })),
    ...OBSERVATION_CATEGORIES.map((c) => ({ type: 'Observation', part: c, query: `/Observation?patient=${p}&category=${c}&_count=${count}` })),
    ...CARE_TEAM_STATUSES.map((s) => ({ type: 'CareTeam', part: s, query: `/CareTeam?patient=Patient/${p}&status=${s}&_count=${count}` })),
    { type: 'CarePlan', query: `/CarePlan?patient=${p}&category=assess-plan&_count=${count}` }
  ]
}

t.test('every search of the plan pages to the expected counts through foreign-origin next links', async (t) => {
  const sandbox = await useSandbox(t, { size: 'medium' })
  const { access_token: token } = await sandbox.issueTokens()
  const expected = sandbox.expectedCounts()
  t.equal(expected.total, 2000)

  const seen: Record<string, number> = {}
  let pages = 0
  for (const search of healowPlan(sandbox.patientId, 50)) {
    const { resources, nextLinks, totals } = await pageAll(sandbox, token, search.query)
    pages += totals.length
    const want = search.type === 'Observation'
      ? expected.observationByCategory[search.part ?? '']
      : search.type === 'CareTeam' ? expected.careTeamByStatus[search.part ?? ''] : expected.byType[search.type]
    t.equal(resources.length, want, `${search.query} yields every resource`)
    t.ok(totals.every((n) => n === want), 'every page states the total')
    t.equal(new Set(resources.map((r) => r.id)).size, resources.length, 'no resource twice')
    t.ok(resources.every((r) => r.resourceType === search.type), 'only the searched type')
    if (search.part !== undefined && search.type === 'Observation') {
      t.ok(resources.every((r) => r.category[0].coding[0].code === search.part), `only ${search.part}`)
    }
    if (search.type === 'CareTeam') t.ok(resources.every((r) => r.status === search.part), `only status ${search.part ?? ''}`)
    for (const link of nextLinks) {
      const url = new URL(link)
      t.equal(url.origin, 'http://fhir4.eclinicalworks.com', 'next links point at the foreign origin')
      t.equal(url.pathname, `/fhir/r4/SANDBX/${search.type}`)
    }
    seen[search.type] = (seen[search.type] ?? 0) + resources.length
  }
  t.same(seen, expected.byType)
  t.ok(pages > 40, `paged over many pages (${pages})`)

  const patient = await fhirGet(sandbox, token, `/Patient?_id=${sandbox.patientId}`)
  t.equal(patient.status, 200)
  t.equal(patient.body.total, 1)
  t.equal(patient.body.entry[0].resource.id, sandbox.patientId)
  t.equal(patient.body.entry[0].fullUrl, `http://fhir4.eclinicalworks.com/fhir/r4/SANDBX/Patient/${sandbox.patientId}`)
})

t.test('a second patient has its own record; _count is capped at 200', async (t) => {
  const sandbox = await useSandbox(t, { size: 600, linkOrigin: 'http://links.example.test' })
  const other = sandbox.patients[2]?.id ?? ''
  const { access_token: token } = await sandbox.issueTokens({ patientId: other })
  const expected = sandbox.expectedCounts(other)
  t.not(expected.total, sandbox.expectedCounts().total, 'patients differ in size')

  const labs = await pageAll(sandbox, token, `/Observation?patient=${other}&category=laboratory&_count=1000`)
  t.equal(labs.resources.length, expected.observationByCategory.laboratory)
  t.ok(labs.nextLinks.every((l) => new URL(l).origin === 'http://links.example.test'))
  t.ok(labs.nextLinks.every((l) => new URL(l).searchParams.get('_count') === '200'))
  t.ok(labs.resources.every((r) => r.subject.reference === `Patient/${other}`))

  const first = await fhirGet(sandbox, token, `/Observation?patient=${other}&category=laboratory`)
  t.equal(first.body.entry.length, Math.min(50, expected.observationByCategory.laboratory ?? 0), 'default page is 50')
  t.equal(first.body.link[0].relation, 'self')
  t.equal(first.body.link[0].url, `http://links.example.test/fhir/r4/SANDBX/Observation?patient=${other}&category=laboratory`)
})

t.test('several categories in one search, and system|code tokens', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const expected = sandbox.expectedCounts()
  const both = await pageAll(sandbox, token, `/Observation?patient=${sandbox.patientId}&category=laboratory,vital-signs&_count=7`)
  t.equal(both.resources.length, (expected.observationByCategory.laboratory ?? 0) + (expected.observationByCategory['vital-signs'] ?? 0))
  const coded = await fhirGet(sandbox, token, `/Observation?patient=${sandbox.patientId}&category=http://terminology.hl7.org/CodeSystem/observation-category|survey`)
  t.equal(coded.body.total, expected.observationByCategory.survey)
  const unknown = await fhirGet(sandbox, token, `/Observation?patient=${sandbox.patientId}&category=nonsense`)
  t.equal(unknown.status, 200)
  t.equal(unknown.body.total, 0)
  t.equal(unknown.body.entry, undefined)
})
