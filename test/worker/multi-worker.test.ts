import t from 'tap'
import { readSyncStatus } from '../../core/sync-status.js'
import { build } from '../helpers/build.js'
import { Browser } from '../helpers/browser.js'
import { connect } from '../helpers/connect.js'
import { settingsOf, spawnWorker } from '../helpers/spawn-worker.js'
import { waitFor } from '../helpers/worker.js'

// Time runs 30 times faster here: Healow's minute is 2 s, at both ends.
const WINDOW_MS = 2000
const BUDGET = 200

t.test('two worker processes sync 50 connections of one practice within the budget', async (t) => {
  const ctx = await build(t, { sandbox: { rateWindowMs: WINDOW_MS, rateLimit: 250 }, plugin: { practiceRateLimit: BUDGET } })
  const ids: string[] = []
  for (let i = 0; i < 50; i++) {
    const { connectionId } = await connect(ctx, { browser: new Browser() })
    ids.push(connectionId ?? '')
  }
  t.equal(new Set(ids).size, 50, '50 connections')
  ctx.sandbox.resetCounters()

  const settings = settingsOf(ctx, { practiceRateLimit: BUDGET })
  await Promise.all([0, 1].map(async () => await spawnWorker(t, { settings, tenant: ctx.tenant, budgetWindowMs: WINDOW_MS })))

  const expected = ctx.sandbox.expectedCounts(ctx.sandbox.patientId)
  await waitFor(async () => {
    const statuses = await Promise.all(ids.map(async (id) => await readSyncStatus(ctx.app.healow, id)))
    return statuses.every((s) => s !== null && s.outcome !== 'running') ? true : undefined
  }, 180_000, 'every sync')
  for (const id of ids) {
    const status = await readSyncStatus(ctx.app.healow, id)
    t.equal(status?.outcome, 'succeeded', `${id} succeeded`)
    t.equal(status?.counts.Condition, expected.byType.Condition)
  }
  const counters = ctx.sandbox.counters()
  const windows = Object.values(counters.byMinute)
  t.ok(windows.length >= 5, `the work spread over ${windows.length} windows`)
  t.ok(counters.busiestMinute <= BUDGET, `busiest window ${counters.busiestMinute} <= ${BUDGET}`)
  t.equal(counters.rateLimited, 0, 'the practice never answered 429')
  t.ok(counters.requests > 50 * 27, `every search ran (${counters.requests} calls)`)
})
