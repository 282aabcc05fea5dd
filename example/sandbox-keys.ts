import { Redis } from 'ioredis'
import { bullPrefix } from '../core/queue.js'

/**
 * Sandbox runs keep their data under their own prefix. The sandbox practice
 * lives in memory and the encryption key is random per run, so what an
 * earlier sandbox run left in Redis can never be read or synced again:
 * clearing it at start keeps its schedules from failing later. Real
 * connections (another prefix) are never touched.
 */
export const SANDBOX_KEY_PREFIX = 'healow-sandbox'

/** Deletes every key of earlier sandbox runs; returns how many. */
export async function clearSandboxKeys (redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  let deleted = 0
  try {
    for (const pattern of [`${SANDBOX_KEY_PREFIX}:*`, `${bullPrefix(SANDBOX_KEY_PREFIX)}:*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern.replace(/[{}]/g, '\\$&'), 'COUNT', 500)
        cursor = next
        if (keys.length > 0) deleted += await redis.del(...keys)
      } while (cursor !== '0')
    }
  } finally {
    await redis.quit().catch(() => { redis.disconnect() })
  }
  return deleted
}
