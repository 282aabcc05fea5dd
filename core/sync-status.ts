import { z } from 'zod'
import type { HealowCore } from './context.js'

/** One search that did not complete, and why (status code and a short reason). */
export const syncFailureSchema = z.object({
  search: z.string(),
  status: z.number().optional(),
  reason: z.string()
})

/** What a connection's status shows of its syncs. Holds counts, never record text. */
export const syncStatusSchema = z.object({
  outcome: z.enum(['running', 'succeeded', 'partial', 'failed', 'skipped']),
  trigger: z.string(),
  jobId: z.string().optional(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  counts: z.record(z.string(), z.number()),
  changed: z.number(),
  failures: z.array(syncFailureSchema),
  error: z.string().optional(),
  lastSuccessAt: z.string().optional(),
  skippedRuns: z.number().default(0),
  lastSkippedAt: z.string().optional()
})

export type SyncStatus = z.infer<typeof syncStatusSchema>
export type SyncFailure = z.infer<typeof syncFailureSchema>

/** The connection's last sync as stored by the worker; null before the first one. */
export async function readSyncStatus (core: Pick<HealowCore, 'redis' | 'keys'>, connectionId: string): Promise<SyncStatus | null> {
  const raw = await core.redis.get(core.keys.syncStatus(connectionId))
  if (raw === null) return null
  const parsed = syncStatusSchema.safeParse(JSON.parse(raw))
  return parsed.success ? parsed.data : null
}

export async function writeSyncStatus (core: Pick<HealowCore, 'redis' | 'keys'>, connectionId: string, status: SyncStatus): Promise<void> {
  await core.redis.set(core.keys.syncStatus(connectionId), JSON.stringify(status))
}
