import { UnrecoverableError, type Job } from 'bullmq'
import type { Connection } from '../core/connections.js'
import type { HealowCore, Logger } from '../core/context.js'
import type { FhirClient, FhirRequestContext } from '../core/fhir-client.js'
import { pageSearch } from '../core/fhir-paging.js'
import { parseSyncJob, type SyncJobData } from '../core/queue.js'
import type { RecordStore } from '../core/record-store.js'
import { buildSearchPlan, type PlannedSearch } from '../core/search-plan.js'
import { readSyncStatus, writeSyncStatus, type SyncFailure, type SyncStatus } from '../core/sync-status.js'
import { fetchAttachments } from './attachments.js'

/** Progress as published with `job.updateProgress` and streamed by the events route. */
export interface SyncProgress {
  connectionId: string
  phase: 'starting' | 'downloading' | 'done'
  search?: string
  searchesDone: number
  searchesTotal: number
  pages: number
  resources: number
  counts: Record<string, number>
}

export interface SyncResult {
  connectionId: string
  outcome: SyncStatus['outcome'] | 'gone'
  counts: Record<string, number>
  changed: number
  failures: SyncFailure[]
}

export interface SyncDeps {
  core: HealowCore
  fhir: FhirClient
  records: RecordStore
  /** Attachments larger than this are not stored (and reported). */
  maxAttachmentBytes: number
  log: Logger
}

/** A run is skipped when the last success is younger than the interval less this slack (a scheduler's own drift). */
function skipSlackMs (intervalMs: number): number {
  return Math.min(intervalMs / 10, 3_600_000)
}

/**
 * One sync of one connection: tokens, the Healow-safe search plan page by
 * page into the encrypted store, attachments, status. A failed search is
 * recorded and the sync goes on; `invalid_grant` fails the job for good.
 */
export async function processSync (job: Pick<Job<SyncJobData>, 'id' | 'data' | 'updateProgress'>, deps: SyncDeps): Promise<SyncResult> {
  const { core, log } = deps
  const data = parseSyncJob(job.data)
  const connection = await core.connections.get(data.connectionId)
  const empty = { connectionId: data.connectionId, counts: {}, changed: 0, failures: [] }
  if (connection === undefined) return { ...empty, outcome: 'gone' }
  if (connection.state === 'reauth_required') throw new UnrecoverableError('HEALOW_ERR_REAUTH_REQUIRED')
  const previous = await readSyncStatus(core, connection.id)
  if (data.trigger === 'scheduled' && isRecent(previous, core.config.syncIntervalMs)) {
    await writeSyncStatus(core, connection.id, {
      ...(previous as SyncStatus),
      skippedRuns: (previous?.skippedRuns ?? 0) + 1,
      lastSkippedAt: new Date().toISOString()
    })
    log.info({ connectionId: connection.id, jobId: job.id }, 'scheduled sync skipped: a recent sync succeeded')
    return { ...empty, outcome: 'skipped' }
  }
  return await run(job, connection, previous, deps)
}

function isRecent (status: SyncStatus | null, intervalMs: number): boolean {
  if (status?.lastSuccessAt === undefined) return false
  return Date.now() - Date.parse(status.lastSuccessAt) < intervalMs - skipSlackMs(intervalMs)
}

async function run (job: Pick<Job<SyncJobData>, 'id' | 'data' | 'updateProgress'>, connection: Connection, previous: SyncStatus | null, deps: SyncDeps): Promise<SyncResult> {
  const { core, fhir, records, log } = deps
  const startedAt = new Date().toISOString()
  const plan = buildSearchPlan(connection.patientId)
  const progress: SyncProgress = {
    connectionId: connection.id, phase: 'starting', searchesDone: 0, searchesTotal: plan.length, pages: 0, resources: 0, counts: {}
  }
  const failures: SyncFailure[] = []
  let changed = 0
  const base: SyncStatus = {
    outcome: 'running', trigger: job.data.trigger, jobId: job.id, startedAt, counts: {}, changed: 0, failures: [],
    lastSuccessAt: previous?.lastSuccessAt, skippedRuns: previous?.skippedRuns ?? 0, lastSkippedAt: previous?.lastSkippedAt
  }
  await writeSyncStatus(core, connection.id, base)
  await job.updateProgress({ ...progress })
  const ctx = requestContext(core, connection)
  let upstreamFailures = 0

  for (const search of plan) {
    progress.phase = 'downloading'
    progress.search = search.id
    try {
      for await (const page of pageSearch(fhir, ctx, search)) {
        const result = await records.upsertPage(connection.id, page.resources)
        changed += result.added + result.updated
        progress.pages++
        progress.resources += page.resources.length
        for (const r of page.resources) progress.counts[r.resourceType] = (progress.counts[r.resourceType] ?? 0) + 1
        if (search.type === 'DocumentReference') {
          // Attachments page by page, so nothing accumulates with the size of the record.
          const attachments = await fetchAttachments({ ...deps, ctx, connection, documents: page.resources })
          changed += attachments.stored
          if (attachments.stored > 0) progress.counts.Binary = (progress.counts.Binary ?? 0) + attachments.stored
          failures.push(...attachments.failures)
        }
        await job.updateProgress({ ...progress, counts: { ...progress.counts } })
      }
    } catch (err) {
      if (isReauth(err)) throw new UnrecoverableError('HEALOW_ERR_REAUTH_REQUIRED')
      const failure = describeFailure(search, err)
      if (failure.status === undefined) upstreamFailures++
      failures.push(failure)
      log.warn({ connectionId: connection.id, jobId: job.id, search: search.id, status: failure.status, code: (err as { code?: string }).code }, 'search failed; sync goes on')
    }
    progress.searchesDone++
  }
  // Every search failed to reach the practice: let BullMQ retry the job later.
  if (upstreamFailures === plan.length) {
    const status: SyncStatus = { ...base, outcome: 'failed', finishedAt: new Date().toISOString(), failures, error: 'the practice could not be reached' }
    await writeSyncStatus(core, connection.id, status)
    throw new Error('HEALOW_ERR_UPSTREAM: every search failed')
  }

  const outcome = failures.length === 0 ? 'succeeded' : 'partial'
  const finishedAt = new Date().toISOString()
  await writeSyncStatus(core, connection.id, {
    ...base, outcome, finishedAt, counts: progress.counts, changed, failures, lastSuccessAt: startedAt
  })
  progress.phase = 'done'
  await job.updateProgress({ ...progress, counts: { ...progress.counts } })
  log.info({ connectionId: connection.id, jobId: job.id, outcome, resources: progress.resources, changed, failed: failures.length }, 'sync finished')
  return { connectionId: connection.id, outcome, counts: progress.counts, changed, failures }
}

/** The FHIR request context of one connection: its base, its token, single-flight refresh on 401. */
export function requestContext (core: HealowCore, connection: Connection): FhirRequestContext & { current?: string } {
  const ctx: FhirRequestContext & { current?: string } = {
    practiceId: connection.practiceId,
    baseUrl: connection.fhirBaseUrl,
    getAccessToken: async () => {
      ctx.current = await core.tokens.getAccessToken(connection)
      return ctx.current
    },
    onUnauthorized: async () => {
      ctx.current = await core.tokens.refreshAfterUnauthorized(connection, ctx.current ?? '')
      return ctx.current
    }
  }
  return ctx
}

function isReauth (err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'HEALOW_ERR_REAUTH_REQUIRED'
}

function describeFailure (search: PlannedSearch, err: unknown): SyncFailure {
  const e = err as { code?: string, status?: number, reason?: string, message?: string }
  if (e.code === 'HEALOW_ERR_FHIR_SEARCH') return { search: search.id, status: e.status, reason: e.reason ?? e.message ?? 'refused' }
  return { search: search.id, reason: `${e.code ?? 'HEALOW_ERR_UPSTREAM'}: ${(e.message ?? 'failed').slice(0, 200)}` }
}
