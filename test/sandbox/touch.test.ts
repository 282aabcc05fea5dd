import t from 'tap'
import { fhirGet, pageAll, useSandbox } from './helpers.js'

t.test('touch gives records a new version and adds new ones, stamped with the clock', async (t) => {
  let clock = Date.UTC(2025, 5, 1, 12, 0, 0)
  const sandbox = await useSandbox(t, { now: () => clock, tokenTtlSeconds: 86_400 })
  const { access_token: token } = await sandbox.issueTokens()
  const query = `/Observation?patient=${sandbox.patientId}&category=vital-signs&_count=200`
  const before = (await pageAll(sandbox, token, query)).resources
  t.ok(before.every((r) => r.meta.versionId === '1'))
  const cursor = before.map((r) => r.meta.lastUpdated).sort().at(-1) as string
  t.ok(cursor < '2025', 'generated history ends before the clock')

  clock += 3_600_000
  const change = sandbox.touch(sandbox.patientId, 'Observation', { category: 'vital-signs', updated: 2, added: 3 })
  t.equal(change.updated.length, 2)
  t.equal(change.added.length, 3)

  const after = (await pageAll(sandbox, token, query)).resources
  t.equal(after.length, before.length + 3)
  t.equal(sandbox.expectedCounts().observationByCategory['vital-signs'], before.length + 3)
  const since = after.filter((r) => r.meta.lastUpdated > cursor)
  t.same(since.map((r) => r.id).sort(), [...change.updated, ...change.added].sort(), 'only touched records are newer than the cursor')
  t.same(since.filter((r) => change.updated.includes(r.id)).map((r) => r.meta.versionId), ['2', '2'])
  t.ok(since.every((r) => r.meta.lastUpdated === '2025-06-01T08:00:00.000-05:00'))

  const read = await fhirGet(sandbox, token, `/Observation/${change.added[0] ?? ''}`)
  t.equal(read.status, 200, 'an added record can be read')
  t.equal(read.headers.get('last-modified'), new Date(clock).toUTCString())

  const again = sandbox.touch(sandbox.patientId, 'Observation', { category: 'vital-signs', updated: 1 })
  t.same(again.updated, change.updated.slice(0, 1))
  t.equal((await fhirGet(sandbox, token, `/Observation/${again.updated[0] ?? ''}`)).body.meta.versionId, '3')
})

t.test('touch with a number updates that many; added MedicationRequests bring their Medication', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  t.same(sandbox.touch(sandbox.patientId, 'Condition', 1).added, [])
  const { added } = sandbox.touch(sandbox.patientId, 'MedicationRequest', { added: 1 })
  const request = await fhirGet(sandbox, token, `/MedicationRequest/${added[0] ?? ''}`)
  const medication = await fhirGet(sandbox, token, `/${String(request.body.medicationReference.reference)}`)
  t.equal(medication.status, 200)
  t.equal(medication.body.code.text, request.body.dosageInstruction[0].text.split(' 1 ')[0])
  const team = sandbox.touch(sandbox.patientId, 'CareTeam', { status: 'suspended', added: 2 })
  t.equal(sandbox.expectedCounts().careTeamByStatus.suspended, 2)
  t.equal(team.added.length, 2)
  t.throws(() => sandbox.touch(sandbox.patientId, 'Medication', 1), /not a searchable type/)
  t.throws(() => sandbox.touch(sandbox.patientId, 'Observation', { category: 'astrology', added: 1 }), /no partition/)
  t.throws(() => sandbox.touch('nobody', 'Condition', 1), /Unknown sandbox patient/)
})
