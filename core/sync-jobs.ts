import type { Job, JobsOptions, Queue } from 'bullmq'
import type { Connection } from './connections.js'
import { JOBS, schedulerId, scheduleOffsetMs, type SyncJobData, type SyncTrigger } from './queue.js'

/** A failed sync is tried again with growing waits (5xx, timeouts); `invalid_grant` is never retried. */
export const SYNC_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 30_000, jitter: 0.5 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 50 },
  removeOnFail: { age: 30 * 24 * 3600, count: 50 }
}

/** The deduplication id shared by every sync job of one connection. */
export function syncDeduplicationId (connectionId: string): string {
  return `sync-${connectionId}`
}

/**
 * Queues a sync. Deduplicated per connection: while one is queued or running,
 * a second trigger gets that same job back (BullMQ deduplication, simple mode:
 * the id is released when the job completes or fails).
 */
export async function enqueueSync (queue: Queue<SyncJobData>, connectionId: string, trigger: SyncTrigger): Promise<Job<SyncJobData>> {
  return await queue.add(JOBS.sync, { connectionId, trigger }, {
    ...SYNC_JOB_OPTIONS,
    deduplication: { id: syncDeduplicationId(connectionId) }
  })
}

/**
 * The connection's recurring sync, every `intervalMs` (the weekly cadence
 * declared to Healow), started at an offset that spreads connections evenly
 * over the interval. Upserting replaces an earlier schedule of the connection.
 */
export async function ensureSchedule (queue: Queue<SyncJobData>, connection: Connection, intervalMs: number): Promise<void> {
  await queue.upsertJobScheduler(
    schedulerId(connection.id),
    { every: intervalMs, offset: Math.max(1, scheduleOffsetMs(connection.slot, intervalMs)) },
    { name: JOBS.sync, data: { connectionId: connection.id, trigger: 'scheduled' }, opts: SYNC_JOB_OPTIONS }
  )
}

export async function removeSchedule (queue: Queue<SyncJobData>, connectionId: string): Promise<void> {
  await queue.removeJobScheduler(schedulerId(connectionId))
}

/** When the connection's next scheduled sync runs (epoch ms), if it has a schedule. */
export async function nextScheduledAt (queue: Queue<SyncJobData>, connectionId: string): Promise<number | undefined> {
  const scheduler = await queue.getJobScheduler(schedulerId(connectionId))
  return scheduler?.next ?? undefined
}
