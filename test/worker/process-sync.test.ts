import t from 'tap'
import { UnrecoverableError } from 'bullmq'
import { createFhirClient } from '../../core/fhir-client.js'
import { readSyncStatus, writeSyncStatus } from '../../core/sync-status.js'
import { processSync, type SyncDeps } from '../../worker/sync.js'
import type { SyncJobData } from '../../core/queue.js'
import { build, type TestApp } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'

/** The processor called directly, as the worker would, with a stand-in job that records progress. */
function fakeJob (connectionId: string, trigger: SyncJobData['trigger']): { id: string, data: SyncJobData, updateProgress: (p: unknown) => Promise<void>, progress: unknown[] } {
  const progress: unknown[] = []
  return { id: `job-${trigger}`, data: { connectionId, trigger }, progress, updateProgress: async (p) => { progress.push(p) } }
}

function depsOf (ctx: TestApp): SyncDeps {
  const core = ctx.app.healow
  return {
    core,
    fhir: createFhirClient({ fetch: core.fetch, budget: core.budget, allowLoopbackHttp: true, baseDelayMs: 10 }),
    maxAttachmentBytes: 1024 * 1024,
    log: ctx.app.log
  }
}

t.test('a scheduled run after a recent success skips itself and says so', async (t) => {
  const ctx = await build(t)
  const { connectionId } = await connect(ctx)
  const id = connectionId ?? ''
  const first = await processSync(fakeJob(id, 'initial'), depsOf(ctx))
  t.equal(first.outcome, 'succeeded')
  const requests = ctx.sandbox.counters().requests
  const skipped = await processSync(fakeJob(id, 'scheduled'), depsOf(ctx))
  t.equal(skipped.outcome, 'skipped')
  t.equal(ctx.sandbox.counters().requests, requests, 'the practice was not called')
  const status = await readSyncStatus(ctx.app.healow, id)
  t.equal(status?.outcome, 'succeeded', 'the last sync is still the real one')
  t.equal(status?.skippedRuns, 1)
  t.ok(status?.lastSkippedAt)

  // A week later, the scheduled run goes ahead.
  if (status === null) throw new Error('no status')
  await writeSyncStatus(ctx.app.healow, id, { ...status, lastSuccessAt: new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString() })
  const due = await processSync(fakeJob(id, 'scheduled'), depsOf(ctx))
  t.equal(due.outcome, 'succeeded')
  t.ok(ctx.sandbox.counters().requests > requests)
})

t.test('a search the practice refuses is recorded and the sync goes on', async (t) => {
  const ctx = await build(t)
  const { connectionId } = await connect(ctx)
  const id = connectionId ?? ''
  const core = ctx.app.healow
  // A token without Goal or Device: those searches get 403.
  const scope = (await core.connections.readTokens(id))?.scope.split(' ').filter((s) => !/Goal|Device/.test(s)).join(' ')
  const minted = await ctx.sandbox.issueTokens({ scope })
  const tokens = await core.connections.readTokens(id)
  if (tokens === undefined) throw new Error('no tokens')
  await core.connections.writeTokens(id, { ...tokens, accessToken: minted.access_token })
  const job = fakeJob(id, 'manual')
  const result = await processSync(job, depsOf(ctx))
  t.equal(result.outcome, 'partial')
  t.same(result.failures.map((f) => `${f.search} ${f.status ?? ''}`).sort(), ['Device 403', 'Goal 403'])
  t.ok(result.failures.every((f) => f.reason.length > 0 && f.reason.length <= 200), 'each failure says why')
  const expected = ctx.sandbox.expectedCounts(ctx.sandbox.patientId)
  t.equal(result.counts.Condition, expected.byType.Condition, 'the other searches completed')
  const status = await readSyncStatus(core, id)
  t.equal(status?.outcome, 'partial')
  t.same(status?.failures, result.failures)
  t.ok(status?.lastSuccessAt, 'partial results are results')
  t.ok(job.progress.length >= 2, 'progress while it runs and at the end')
  t.equal((job.progress.at(-1) as { phase: string }).phase, 'done')
})

t.test('reauth_required fails the job for good; a removed connection ends quietly', async (t) => {
  const ctx = await build(t)
  const { connectionId } = await connect(ctx)
  const id = connectionId ?? ''
  await ctx.app.healow.connections.markReauthRequired(id, 'invalid_grant')
  await t.rejects(processSync(fakeJob(id, 'manual'), depsOf(ctx)), UnrecoverableError)
  await ctx.app.healow.connections.remove(id)
  const gone = await processSync(fakeJob(id, 'scheduled'), depsOf(ctx))
  t.equal(gone.outcome, 'gone')
  await t.rejects(processSync({ ...fakeJob(id, 'manual'), data: { connectionId: id, trigger: 'manual', accessToken: 'x' } as unknown as SyncJobData }, depsOf(ctx)),
    { code: 'HEALOW_ERR_INVALID_JOB' }, 'job data with anything but the id and trigger is refused')
})
