import t from 'tap'
import { build } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'
import { startTestWorker, waitFor, waitForSync } from '../helpers/worker.js'

t.test('connect, then a real worker syncs the whole record with exact counts', async (t) => {
  const ctx = await build(t)
  const { connectionId, browser } = await connect(ctx)
  const id = connectionId ?? ''
  await startTestWorker(t, ctx)
  const status = await waitForSync(ctx, id)
  t.equal(status.outcome, 'succeeded')
  t.same(status.failures, [])
  t.equal(status.trigger, 'initial')

  const expected = ctx.sandbox.expectedCounts(ctx.sandbox.patientId)
  const stored = await ctx.app.healow.records.countByType(id)
  for (const [type, n] of Object.entries(expected.byType)) {
    t.equal(stored[type] ?? 0, n, `${type}: stored equals the practice's`)
    t.equal(status.counts[type] ?? 0, n, `${type}: the status counts it`)
  }
  t.equal(stored.Patient, 1)
  t.ok((stored.Binary ?? 0) > 0, 'attachments were fetched')

  // A second sync stores no duplicates and reports no change.
  const res = await browser.send('POST', `${ctx.origin}/healow/connections/${id}/sync`, undefined)
  t.equal(res.status, 202)
  const jobId = JSON.parse(res.body).jobId
  const second = await waitFor(async () => {
    const s = await waitForSync(ctx, id)
    return s.jobId === jobId ? s : undefined
  }, 60_000, 'the manual sync')
  t.equal(second.outcome, 'succeeded')
  t.equal(second.trigger, 'manual')
  t.equal(second.changed, 0, 'nothing changed')
  t.same(await ctx.app.healow.records.countByType(id), stored, 'no duplicates')

  // Records come back as a searchset Bundle, paged by cursor.
  const page = await browser.get(`${ctx.origin}/healow/connections/${id}/resources?type=Condition&limit=5`)
  t.equal(page.status, 200)
  const bundle = JSON.parse(page.body)
  t.equal(bundle.resourceType, 'Bundle')
  t.equal(bundle.type, 'searchset')
  t.equal(bundle.entry.length, Math.min(5, expected.byType.Condition ?? 0))
  t.ok(bundle.entry.every((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Condition'))

  // Nothing of the record, nor the token, reached any log line of the host or the worker (level trace).
  const patient = (await ctx.app.healow.records.listChanges(id, { type: 'Patient' })).records[0]?.resource as { name?: Array<{ family?: string }> }
  const family = patient?.name?.[0]?.family ?? ''
  const conditions = bundle.entry.map((e: { resource: { code?: { text?: string } } }) => e.resource.code?.text ?? '').filter((x: string) => x.length > 5)
  const token = (await ctx.app.healow.connections.readTokens(id))?.accessToken ?? ''
  const logs = ctx.logs.text()
  t.ok(logs.includes('sync finished'), 'the worker logged to the capture')
  t.ok(family.length > 2 && conditions.length > 0 && token.length > 10, 'real values to look for')
  const names = ['the patient name', ...conditions.map(() => 'a condition'), 'the access token']
  ;[family, ...conditions, token].forEach((text, i) => { t.notOk(logs.includes(text), `${names[i] ?? ''} is not in the logs`) })
})
