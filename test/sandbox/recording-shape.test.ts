import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { fhirGet, useSandbox } from './helpers.js'

/** Real responses of Healow's sandbox practice; absent on a plain clone, then these checks are skipped. */
const RECORDING = fileURLToPath(new URL('../../../shared/data/healow-sandbox-recording.json', import.meta.url))
const absent = existsSync(RECORDING) ? false : 'the Healow recording (../shared/data) is not present'

interface Recorded {
  url: string
  status: number | null
  responseHeaders: Record<string, string[]>
  body: any
}

function load (): Recorded[] {
  return JSON.parse(readFileSync(RECORDING, 'utf8')) as Recorded[]
}

/** The recorded request, rewritten for the sandbox: its type and query, with our patient. */
function sandboxPath (recorded: Recorded, patientId: string): { type: string, path: string } {
  const url = new URL(recorded.url)
  const type = url.pathname.split('/').at(-1) ?? ''
  url.searchParams.set('patient', patientId)
  return { type, path: `/${type}?${url.searchParams.toString()}` }
}

t.test('search Bundles have the recorded shape: keys, foreign-origin links, entries, headers', { skip: absent }, async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const bundles = load().filter((r) => r.status === 200 && r.body?.resourceType === 'Bundle' && r.body.entry !== undefined)
  t.ok(bundles.length >= 8)
  for (const recorded of bundles) {
    const { type, path } = sandboxPath(recorded, sandbox.patientId)
    const ours = await fhirGet(sandbox, token, path)
    t.equal(ours.status, 200, path)
    t.same(Object.keys(ours.body).sort(), Object.keys(recorded.body).sort(), `${type}: Bundle keys`)
    const theirLink = new URL(recorded.body.link[0].url)
    const ourLink = new URL(ours.body.link[0].url)
    t.equal(ourLink.origin, theirLink.origin, `${type}: links on the foreign origin`)
    t.equal(ourLink.pathname.replace('SANDBX', 'JAFJCD'), theirLink.pathname)
    const theirEntry = recorded.body.entry[0]
    const ourEntry = ours.body.entry[0]
    t.same(Object.keys(ourEntry).sort(), Object.keys(theirEntry).sort())
    t.same(ourEntry.search, theirEntry.search)
    t.same(ourEntry.resource.meta.profile, theirEntry.resource.meta.profile, `${type}: profile`)
    t.equal(ourEntry.fullUrl.replace(ourEntry.resource.id, '').replace('SANDBX', 'JAFJCD'), theirEntry.fullUrl.replace(theirEntry.resource.id, ''))
    for (const header of Object.keys(recorded.responseHeaders).filter((h) => ['content-type', 'last-modified', 'x-request-id'].includes(h.toLowerCase()))) {
      t.ok(ours.headers.has(header), `${type}: ${header} header`)
    }
    t.equal(ours.headers.get('content-type'), recorded.responseHeaders['Content-Type']?.[0])
  }
})

t.test('the recorded 400s come back byte for byte', { skip: absent }, async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const refused = load().filter((r) => r.status === 400)
  t.same(refused.map((r) => new URL(r.url).pathname.split('/').at(-1)).sort(), ['CarePlan', 'CareTeam', 'Observation'])
  for (const recorded of refused) {
    const { path } = sandboxPath(recorded, sandbox.patientId)
    const ours = await fhirGet(sandbox, token, path)
    t.equal(ours.status, 400)
    t.same(ours.body, recorded.body, path)
  }
})

t.test('Patient and the counts of the small record follow the recording', { skip: absent }, async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const recording = load()
  const recordedPatient = recording.find((r) => r.body?.resourceType === 'Patient')?.body
  const ours = (await fhirGet(sandbox, token, `/Patient/${sandbox.patientId}`)).body
  const missing = Object.keys(recordedPatient).filter((k) => !(k in ours))
  t.same(missing, ['deceasedDateTime'], 'every recorded Patient field but a deceased date')
  t.same(ours.extension.map((e: { url: string }) => e.url), recordedPatient.extension.map((e: { url: string }) => e.url))
  const expected = sandbox.expectedCounts().byType
  for (const r of recording.filter((x) => x.body?.resourceType === 'Bundle' && x.body.total > 0 && x.body.entry !== undefined)) {
    const type = new URL(r.url).pathname.split('/').at(-1) ?? ''
    if (['AllergyIntolerance', 'Condition', 'Immunization', 'Device'].includes(type)) t.equal(expected[type], r.body.total, `${type} like the recorded patient`)
  }
})
