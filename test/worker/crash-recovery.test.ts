import t from 'tap'
import { readSyncStatus } from '../../core/sync-status.js'
import { build } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'
import { settingsOf, spawnWorker } from '../helpers/spawn-worker.js'
import { waitFor } from '../helpers/worker.js'

t.test('a worker killed mid-sync: another finishes it with exact counts and no duplicates', async (t) => {
  const ctx = await build(t, { sandbox: { size: 'medium', faults: { latencyMs: 15 } } })
  const { connectionId } = await connect(ctx)
  const id = connectionId ?? ''
  const core = ctx.app.healow
  const settings = settingsOf(ctx)
  // A short lock, so the killed worker's job is handed back in seconds rather than a minute.
  const first = await spawnWorker(t, { settings, tenant: ctx.tenant, lockDurationMs: 2000 })
  await waitFor(async () => {
    const counts = await core.records.countByType(id)
    const stored = Object.values(counts).reduce((a, b) => a + b, 0)
    return stored > 300 ? stored : undefined
  }, 60_000, 'part of the record stored')
  first.child.kill('SIGKILL')
  await first.exited
  const partial = await readSyncStatus(core, id)
  t.equal(partial?.outcome, 'running', 'the killed sync never finished')

  await spawnWorker(t, { settings, tenant: ctx.tenant, lockDurationMs: 2000 })
  const status = await waitFor(async () => {
    const s = await readSyncStatus(core, id)
    return s !== null && s.outcome !== 'running' ? s : undefined
  }, 120_000, 'the sync to finish on the second worker')
  t.equal(status.outcome, 'succeeded')
  const expected = ctx.sandbox.expectedCounts(ctx.sandbox.patientId)
  const stored = await core.records.countByType(id)
  for (const [type, n] of Object.entries(expected.byType)) t.equal(stored[type] ?? 0, n, `${type}: exact count`)

  // Every stored record appears once in the change log, and nothing else does.
  let since: number | undefined = 0
  const seen = new Set<string>()
  let listed = 0
  while (since !== undefined) {
    const page: Awaited<ReturnType<typeof core.records.listChanges>> = await core.records.listChanges(id, { since, limit: 1000 })
    for (const r of page.records) seen.add(`${r.type}/${r.id}`)
    listed += page.records.length
    since = page.nextSince
  }
  const total = Object.values(stored).reduce((a, b) => a + b, 0)
  t.equal(listed, total, 'the change log lists each record once')
  t.equal(seen.size, total, 'no duplicates')
})
