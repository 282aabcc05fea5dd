import type { HealowCore } from './context.js'
import { enqueueSync, syncDeduplicationId } from './sync-jobs.js'

const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'])
const PENDING = 'pending'
const PENDING_WAIT_MS = 3_000

export type ManualSyncAnswer =
  | { kind: 'queued', jobId: string, existing: boolean }
  | { kind: 'too-soon', retryAfterMs: number }

type Deps = Pick<HealowCore, 'redis' | 'keys' | 'syncQueue' | 'config'>

/** The id of a sync of this connection that is queued or running, if any. */
export async function liveSyncJobId (deps: Pick<HealowCore, 'syncQueue'>, connectionId: string): Promise<string | undefined> {
  const jobId = await deps.syncQueue.getDeduplicationJobId(syncDeduplicationId(connectionId))
  if (jobId === null) return undefined
  const state = await deps.syncQueue.getJobState(jobId)
  return LIVE_STATES.has(state) ? jobId : undefined
}

/**
 * "Once a week, or more often if a user manually triggers a sync": a manual
 * sync joins the one already queued or running, and otherwise starts one at
 * most every `manualSyncMinInterval` per connection. The floor key is taken
 * with SET NX, so simultaneous requests (any instance) make one job.
 */
export async function requestManualSync (deps: Deps, connectionId: string): Promise<ManualSyncAnswer> {
  const { redis, keys, syncQueue, config } = deps
  const floorMs = config.manualSyncMinIntervalMs
  const floorKey = keys.manualSync(connectionId)
  const deadline = Date.now() + PENDING_WAIT_MS
  while (true) {
    const live = await liveSyncJobId(deps, connectionId)
    if (live !== undefined) return { kind: 'queued', jobId: live, existing: true }
    if (floorMs === 0 || await redis.set(floorKey, PENDING, 'PX', floorMs, 'NX') === 'OK') {
      const job = await enqueueSync(syncQueue, connectionId, 'manual')
      if (floorMs > 0) await redis.set(floorKey, job.id ?? PENDING, 'KEEPTTL', 'XX')
      return { kind: 'queued', jobId: job.id ?? '', existing: false }
    }
    const holder = await redis.get(floorKey)
    // Another request is adding the job right now: wait for its id rather than refuse.
    if (holder === PENDING && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25))
      continue
    }
    if (holder !== null && holder !== PENDING && LIVE_STATES.has(await syncQueue.getJobState(holder))) {
      return { kind: 'queued', jobId: holder, existing: true }
    }
    if (holder === null) continue
    return { kind: 'too-soon', retryAfterMs: Math.max(1, await redis.pttl(floorKey)) }
  }
}
