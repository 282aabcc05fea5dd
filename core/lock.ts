import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'

/**
 * A lock on one Redis (SET NX PX, compare-and-delete release), used so only
 * one process at a time refreshes a connection's tokens: Healow's refresh
 * tokens are single use and rotating, and two refreshes at once break the
 * connection. Written here because a single-instance lock is a dozen lines,
 * and the distributed-lock packages are unmaintained or built for several
 * independent masters, which we do not run.
 */

export const DEFAULT_LOCK_TTL_MS = 30_000
export const DEFAULT_LOCK_WAIT_MS = 30_000
export const DEFAULT_LOCK_POLL_MS = 50

// Only the holder (same token) deletes; a lock that expired and was taken
// by someone else is left alone.
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

interface LockCommands {
  healowLockRelease (key: string, token: string): Promise<number>
}

function defineRelease (redis: Redis): LockCommands {
  const client = redis as Redis & Partial<LockCommands>
  if (typeof client.healowLockRelease !== 'function') {
    redis.defineCommand('healowLockRelease', { numberOfKeys: 1, lua: RELEASE_LUA })
  }
  return client as Redis & LockCommands
}

export interface LockOptions {
  /** How long the lock outlives a crashed holder; keep it above fn's worst case. */
  ttlMs?: number
  /** How long to wait for a busy lock before giving up. */
  waitMs?: number
  pollMs?: number
}

export type LockResult<T> = { acquired: true, value: T } | { acquired: false }

/**
 * Runs `fn` while holding `key`. When another process holds it, waits until
 * it is released (or `waitMs` runs out) and returns `{ acquired: false }`
 * without running `fn`: the holder did the work, so the caller re-reads the
 * state the holder wrote instead of doing it again.
 */
export async function withLock<T> (redis: Redis, key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<LockResult<T>> {
  const ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS
  const pollMs = options.pollMs ?? DEFAULT_LOCK_POLL_MS
  const token = randomBytes(16).toString('base64url')
  const commands = defineRelease(redis)

  if (await redis.set(key, token, 'PX', ttlMs, 'NX') === 'OK') {
    try {
      return { acquired: true, value: await fn() }
    } finally {
      // A failed release must not hide fn's outcome: the TTL frees the lock.
      await commands.healowLockRelease(key, token).catch(() => 0)
    }
  }
  const deadline = Date.now() + waitMs
  while (Date.now() < deadline) {
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())))
    if (await redis.exists(key) === 0) break
  }
  return { acquired: false }
}
