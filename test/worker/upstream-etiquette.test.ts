import { createServer } from 'node:http'
import t from 'tap'
import { build } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'
import { startTestWorker, waitForSync } from '../helpers/worker.js'

t.test('a 429 lockout pauses the practice and the sync still completes', async (t) => {
  // Healow's minute is 2 s here; the practice allows fewer calls than our budget thinks.
  const ctx = await build(t, { sandbox: { rateWindowMs: 2000, rateLimit: 40, size: 'medium' }, plugin: { practiceRateLimit: 200 } })
  const { connectionId } = await connect(ctx)
  ctx.sandbox.resetCounters()
  await startTestWorker(t, ctx, {}, { budgetWindowMs: 2000 })
  const status = await waitForSync(ctx, connectionId ?? '', 120_000)
  t.equal(status.outcome, 'succeeded')
  t.same(status.failures, [])
  const expected = ctx.sandbox.expectedCounts(ctx.sandbox.patientId)
  t.same(await ctx.app.healow.records.countByType(connectionId ?? ''), { ...expected.byType, Patient: 1, Binary: status.counts.Binary })
  const counters = ctx.sandbox.counters()
  t.ok(counters.rateLimited > 0, `the practice answered 429 (${counters.rateLimited} times)`)
  // Once paused, nobody calls until the next window: a lockout costs one 429 per window or so, not a storm.
  const windows = Object.keys(counters.byMinute).length
  t.ok(counters.rateLimited <= windows * 8, `${counters.rateLimited} 429s over ${windows} windows: the pause held`)
})

t.test('a foreign-origin next link never receives a request or a token', async (t) => {
  const trapped: string[] = []
  const trap = createServer((req, res) => {
    trapped.push(`${req.method ?? ''} ${req.url ?? ''} auth=${req.headers.authorization !== undefined}`)
    res.end('{}')
  })
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { trap.close() })
  const address = trap.address()
  const trapOrigin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`

  const ctx = await build(t, { sandbox: { linkOrigin: trapOrigin, size: 'medium' } })
  const { connectionId } = await connect(ctx)
  await startTestWorker(t, ctx)
  const status = await waitForSync(ctx, connectionId ?? '', 120_000)
  t.equal(status.outcome, 'succeeded')
  const expected = ctx.sandbox.expectedCounts(ctx.sandbox.patientId)
  t.equal(status.counts.Observation, expected.byType.Observation, 'every page arrived through the rebased links')
  t.same(trapped, [], 'the foreign origin saw nothing')
  const sandboxHost = new URL(ctx.sandbox.origin).host
  const log = ctx.sandbox.counters().requestLog
  t.ok(log.length > 50)
  t.ok(log.every((r) => r.host === sandboxHost), 'every call went to the practice base')
})
