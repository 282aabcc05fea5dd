import t from 'tap'
import { SEARCH_TYPES, startSandbox } from '../../sandbox/index.js'
import { fhirGet, pageAll, useSandbox } from './helpers.js'

function stripBundle (body: any): unknown {
  const { id, meta, ...rest } = body
  return rest
}

t.test('records are a pure function of the seed', async (t) => {
  const a = await useSandbox(t, { seed: 'alpha' })
  const b = await useSandbox(t, { seed: 'alpha' })
  const c = await useSandbox(t, { seed: 'beta' })
  t.same(a.patients, b.patients)
  t.not(a.patientId, c.patientId)
  t.notSame(a.patients.map((p) => p.name), c.patients.map((p) => p.name))
  const ta = (await a.issueTokens()).access_token
  const tb = (await b.issueTokens()).access_token
  for (const type of ['Condition', 'Immunization', 'Encounter']) {
    const pa = await fhirGet(a, ta, `/${type}?patient=${a.patientId}`)
    const pb = await fhirGet(b, tb, `/${type}?patient=${b.patientId}`)
    t.same(stripBundle(pa.body), stripBundle(pb.body), `${type} pages are identical`)
  }
  t.same(new Set(a.patients.map((p) => p.name)).size, 3, 'names differ')
})

t.test('a million-resource record is served by random access, never built whole', async (t) => {
  const sandbox = await useSandbox(t, { size: 1_000_000, patients: 1 })
  const expected = sandbox.expectedCounts()
  t.equal(expected.total, 1_000_000)
  const labs = expected.observationByCategory.laboratory ?? 0
  t.ok(labs > 180_000)
  const { access_token: token } = await sandbox.issueTokens()
  const last = await fhirGet(sandbox, token, `/Observation?patient=${sandbox.patientId}&category=laboratory&_count=2&_offset=${labs - 1}`)
  t.equal(last.body.total, labs)
  t.equal(last.body.entry.length, 1)
  t.same(last.body.link.map((l: { relation: string }) => l.relation), ['self'], 'no next link after the last resource')
  t.equal(last.body.entry[0].resource.id.split('.').at(-1), (labs - 1).toString(36))
  const past = await fhirGet(sandbox, token, `/Observation?patient=${sandbox.patientId}&category=laboratory&_offset=${labs + 5}`)
  t.equal(past.body.total, labs)
  t.equal(past.body.entry, undefined)
})

t.test('every type claims US Core, points at the patient, and its references resolve', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const refs = new Set<string>()
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) { value.forEach(collect); return }
    if (value === null || typeof value !== 'object') return
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') refs.add(v)
      else collect(v)
    }
  }
  for (const type of SEARCH_TYPES) {
    const query = type === 'Observation'
      ? `/Observation?patient=${sandbox.patientId}&category=laboratory,vital-signs,social-history,survey,exam,imaging,procedure,activity,sdoh&_count=200`
      : type === 'CareTeam' ? `/CareTeam?patient=${sandbox.patientId}&status=active,inactive,proposed` : type === 'CarePlan' ? `/CarePlan?patient=${sandbox.patientId}&category=assess-plan` : `/${type}?patient=${sandbox.patientId}&_count=200`
    const { resources } = await pageAll(sandbox, token, query)
    t.equal(resources.length, sandbox.expectedCounts().byType[type], type)
    for (const r of resources) {
      t.match(r.meta.profile[0], /^http:\/\/hl7\.org\/fhir\/us\/core\/StructureDefinition\/us-core-/, `${type} profile`)
      t.equal((r.subject ?? r.patient).reference, `Patient/${sandbox.patientId}`)
      t.match(r.text.div, /^<div xmlns="http:\/\/www\.w3\.org\/1999\/xhtml">/)
      collect(r)
    }
  }
  const kinds = new Set([...refs].map((r) => r.split('/')[0]))
  t.same([...kinds].sort(), ['Encounter', 'Location', 'Medication', 'Observation', 'Organization', 'Patient', 'Practitioner'])
  for (const ref of refs) {
    const res = await fhirGet(sandbox, token, `/${ref}`)
    t.equal(res.status, 200, ref)
  }
})

t.test('bad options are refused with every problem named', async (t) => {
  await t.rejects(startSandbox({ patients: 0, size: 'huge' as 'small', linkOrigin: 'http://x.test/path', rateLimit: -1 }), {
    message: /patients must be .*size must be small, medium, large or a number.*rateLimit.*linkOrigin must be an origin/
  })
  await t.rejects(startSandbox({ clientId: 'same', publicClientId: 'same' }), /must differ/)
  await t.rejects(startSandbox({ largeAttachments: { every: 0, bytes: 10 }, redirectUris: ['not a url'] }), /largeAttachments.*redirectUris/)
})
