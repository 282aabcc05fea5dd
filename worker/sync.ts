import { UnrecoverableError, type Job } from 'bullmq'
import type { Connection } from '../core/connections.js'
import type { HealowCore, Logger } from '../core/context.js'
import type { FhirClient, FhirRequestContext } from '../core/fhir-client.js'
import { pageSearch } from '../core/fhir-paging.js'
import { parseSyncJob, type SyncJobData } from '../core/queue.js'
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
  /** Attachments larger than this are not stored (and reported). */
  maxAttachmentBytes: number
  /** Searches of one sync in flight at once (default {@link DEFAULT_SEARCH_CONCURRENCY}). */
  searchConcurrency?: number
  log: Logger
}

export const DEFAULT_SEARCH_CONCURRENCY = 4
/** Progress goes out at most this often (and always at the end), not once per page. */
const PROGRESS_INTERVAL_MS = 250
/** The access token is read from the store again after this long, to pick up refreshes. */
const TOKEN_CACHE_MS = 30_000

/** Runs `fn` over `items` with at most `limit` at once; the first error stops new starts and is thrown. */
export async function eachLimit<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failed = false
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T
      try {
        await fn(item)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
}

/** Calls `fn` when forced or when `intervalMs` has passed since the last call. */
function throttle (fn: () => Promise<void>, intervalMs: number): (force: boolean) => Promise<void> {
  let last = 0
  return async (force) => {
    const now = Date.now()
    if (!force && now - last < intervalMs) return
    last = now
    await fn()
  }
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
  const { core, fhir, log } = deps
  const { records } = core
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
  const publish = throttle(async () => { await job.updateProgress({ ...progress, counts: { ...progress.counts } }) }, PROGRESS_INTERVAL_MS)
  let upstreamFailures = 0

  async function runSearch (search: PlannedSearch): Promise<void> {
    try {
      for await (const page of pageSearch(fhir, ctx, search)) {
        const result = await records.upsertPage(connection.id, page.resources)
        changed += result.added + result.updated
        progress.pages++
        progress.resources += page.resources.length
        for (const r of page.resources) progress.counts[r.resourceType] = (progress.counts[r.resourceType] ?? 0) + 1
        if (search.type === 'DocumentReference') {
          // Attachments page by page, so nothing accumulates with the size of the record.
          const attachments = await fetchAttachments({ ...deps, records, ctx, connection, documents: page.resources })
          changed += attachments.stored
          if (attachments.stored > 0) progress.counts.Binary = (progress.counts.Binary ?? 0) + attachments.stored
          failures.push(...attachments.failures)
        }
        await publish(false)
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

  progress.phase = 'downloading'
  // A few searches at once: the shared budget, not this loop, sets the pace at the practice.
  await eachLimit(plan, deps.searchConcurrency ?? DEFAULT_SEARCH_CONCURRENCY, async (search) => {
    progress.search = search.id
    await runSearch(search)
  })
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
  await publish(true)
  log.info({ connectionId: connection.id, jobId: job.id, outcome, resources: progress.resources, changed, failed: failures.length }, 'sync finished')
  return { connectionId: connection.id, outcome, counts: progress.counts, changed, failures }
}

/** The FHIR request context of one connection: its base, its token, single-flight refresh on 401. */
function requestContext (core: HealowCore, connection: Connection): FhirRequestContext {
  // The token is kept for a short while rather than read (and decrypted) for every page;
  // the token manager still refreshes it ahead of expiry and after a 401. It lives in
  // this closure, not on the context object, so nothing that inspects the context sees it.
  let current: string | undefined
  let readAt = 0
  return {
    practiceId: connection.practiceId,
    baseUrl: connection.fhirBaseUrl,
    getAccessToken: async () => {
      if (current === undefined || Date.now() - readAt > TOKEN_CACHE_MS) {
        current = await core.tokens.getAccessToken(connection)
        readAt = Date.now()
      }
      return current
    },
    onUnauthorized: async () => {
      current = await core.tokens.refreshAfterUnauthorized(connection, current ?? '')
      readAt = Date.now()
      return current
    }
  }
}

function isReauth (err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'HEALOW_ERR_REAUTH_REQUIRED'
}

function describeFailure (search: PlannedSearch, err: unknown): SyncFailure {
  const e = err as { code?: string, status?: number, reason?: string, message?: string }
  if (e.code === 'HEALOW_ERR_FHIR_SEARCH') return { search: search.id, status: e.status, reason: e.reason ?? e.message ?? 'refused' }
  return { search: search.id, reason: `${e.code ?? 'HEALOW_ERR_UPSTREAM'}: ${(e.message ?? 'failed').slice(0, 200)}` }
}
