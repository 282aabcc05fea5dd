import createError from '@fastify/error'
import { z } from 'zod'
import { SAFE_ID_RE } from './keys.js'

/**
 * The contract between the plugin (producer) and the worker (consumer):
 * queue and job names, the job data schema, and the ids that make
 * scheduling and manual triggers idempotent.
 */

export const QUEUES = { sync: 'healow-sync' } as const
export const JOBS = { sync: 'sync' } as const
export const SYNC_TRIGGERS = ['initial', 'scheduled', 'manual'] as const

export type SyncTrigger = typeof SYNC_TRIGGERS[number]

export interface SyncJobData {
  connectionId: string
  trigger: SyncTrigger
}

/**
 * Job data names a connection and nothing else: strict, so no token,
 * code or record can ride along in a job (jobs sit in Redis in clear text
 * and show up in dashboards).
 */
export const syncJobSchema: z.ZodType<SyncJobData> = z.strictObject({
  connectionId: z.string().regex(SAFE_ID_RE, { error: 'must be 1 to 128 letters, digits, _ or -' }),
  trigger: z.enum(SYNC_TRIGGERS, { error: `must be one of ${SYNC_TRIGGERS.join(', ')}` })
})

export const InvalidJobError = createError<'HEALOW_ERR_INVALID_JOB', 500, [string]>(
  'HEALOW_ERR_INVALID_JOB', 'Invalid sync job data: %s', 500)

/**
 * Validates job data; throws `HEALOW_ERR_INVALID_JOB`. The message names the
 * bad fields only, never their values (which might be a token someone put there).
 */
export function parseSyncJob (data: unknown): SyncJobData {
  const parsed = syncJobSchema.safeParse(data)
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `unexpected field(s) ${issue.keys.join(', ')}`
    const where = issue.path.length > 0 ? issue.path.join('.') : 'data'
    return `${where} ${issue.message}`
  })
  throw new InvalidJobError(problems.join('; '))
}

/** The job scheduler of one connection (one per connection, replaced on upsert). */
export function schedulerId (connectionId: string): string {
  return `sync:${connectionId}`
}

/**
 * The id of a connection's manual sync job. Deterministic, so a second
 * trigger while one is queued or running returns the same job instead of
 * adding another. BullMQ refuses custom ids with `:` (they are reserved for
 * its scheduler ids `repeat:<scheduler>:<ms>`), hence the dash.
 */
export function manualJobId (connectionId: string): string {
  return `manual-${connectionId}`
}

/** 1/golden ratio, the step of the most even low-discrepancy sequence on a circle. */
const GOLDEN_STEP = (Math.sqrt(5) - 1) / 2

/**
 * The start offset in [0, intervalMs) of a connection's schedule, so a
 * weekly sync of every connection is not one Monday-midnight stampede
 * against the 250-calls-a-minute practice limit.
 *
 * `slot` is a per-connection sequence number (the connection store takes it
 * with INCR when the connection is created), and the offset is
 * frac(slot * (golden ratio - 1)) of the interval. Why not a hash of the
 * connection id: 10,000 random hashes over 168 hourly buckets land about
 * 59.5 per bucket with a standard deviation near 7.7, so many buckets fall
 * more than 20% off even. The golden-ratio (Weyl) sequence keeps every
 * prefix of slots, and what is left after deletions, nearly even.
 */
export function scheduleOffsetMs (slot: number, intervalMs: number): number {
  if (!Number.isSafeInteger(slot) || slot < 0) throw new RangeError('slot must be a non-negative whole number')
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) throw new RangeError('intervalMs must be a positive whole number')
  const x = slot * GOLDEN_STEP
  const offset = Math.floor((x - Math.floor(x)) * intervalMs)
  return Math.min(offset, intervalMs - 1)
}

/**
 * The BullMQ key prefix. BullMQ names keys `<prefix>:<queue>:<suffix>` and
 * adds no hash tag itself, while its Lua scripts touch many keys of a queue
 * at once; its Redis Cluster guide asks for the prefix in braces so every
 * key of a queue lands in one slot. Bracing the whole prefix (rather than
 * the queue name) also keeps our queues together, which parent/child flows
 * across queues need. Works the same on a single Redis.
 */
export function bullPrefix (keyPrefix: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) throw new RangeError('keyPrefix must be 1 to 64 letters, digits, _ . : or -')
  return `{${keyPrefix}:bull}`
}
