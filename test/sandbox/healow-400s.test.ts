import t from 'tap'
import { fhirGet, useSandbox } from './helpers.js'

const RECORDED = 'Invalid request: Does not know how to handle get operation with parameter [patient,_count]'

t.test('searches Healow refuses get its 400 OperationOutcome', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const p = sandbox.patientId
  for (const path of [
    `/Observation?_count=50&patient=${p}`,
    `/CarePlan?_count=50&patient=${p}`,
    `/CareTeam?_count=50&patient=${p}`,
    `/Provenance?_count=50&patient=${p}`
  ]) {
    const res = await fhirGet(sandbox, token, path)
    t.equal(res.status, 400, path)
    t.equal(res.headers.get('content-type'), 'application/json+fhir;charset=UTF-8')
    t.equal(res.body.resourceType, 'OperationOutcome')
    t.same(res.body.issue, [{ severity: 'error', code: 'processing', diagnostics: RECORDED }])
    t.match(res.body.text.div, `<pre>${RECORDED}</pre>`)
  }
})

t.test('undeclared parameters such as _lastUpdated are refused the same way', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const res = await fhirGet(sandbox, token, `/Condition?patient=${sandbox.patientId}&_lastUpdated=gt2024-01-01&_count=10`)
  t.equal(res.status, 400)
  t.equal(res.body.issue[0].diagnostics, 'Invalid request: Does not know how to handle get operation with parameter [patient,_lastUpdated,_count]')
  const bad = await fhirGet(sandbox, token, `/Condition?patient=${sandbox.patientId}&_count=ten`)
  t.equal(bad.status, 400)
  t.equal(bad.body.issue[0].code, 'invalid')
})

t.test('Provenance is searchable by _id only', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const res = await fhirGet(sandbox, token, '/Provenance?_id=abc')
  t.equal(res.status, 200)
  t.equal(res.body.type, 'searchset')
  t.equal(res.body.total, 0)
})

t.test('the empty-Goal quirk: total 50, no entries, behind a switch', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const path = `/Goal?patient=${sandbox.patientId}&_count=50`
  const normal = await fhirGet(sandbox, token, path)
  t.equal(normal.body.total, sandbox.expectedCounts().byType.Goal)
  t.equal(normal.body.entry.length, 4)

  sandbox.setFaults({ goalQuirk: true })
  const quirk = await fhirGet(sandbox, token, path)
  t.equal(quirk.status, 200)
  t.equal(quirk.body.total, 50)
  t.equal(quirk.body.entry, undefined)
  t.same(quirk.body.link.map((l: { relation: string }) => l.relation), ['self'])
})
