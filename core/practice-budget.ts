import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import createError from '@fastify/error'
import type { Redis } from 'ioredis'
import type { Keys } from './keys.js'

/**
 * One call budget per practice code, shared by every process on every
 * machine through Redis. Healow allows 250 calls per minute per practice
 * (authorize and token calls included); one call over returns 429 and blocks
 * the whole application for the rest of that calendar minute, with no
 * Retry-After. We keep below it (HEALOW_PRACTICE_RATE_LIMIT, default 200).
 *
 * Why a sliding-window log and not a fixed window: a fixed window whose
 * boundaries are not Healow's calendar minute (they never are exactly: our
 * clock is not theirs) lets a full window's worth land at the end of one of
 * our windows and another at the start of the next, so up to 2x the limit
 * falls inside one Healow minute. The log keeps ANY span of `windowMs`, and
 * so every calendar minute, at or under the limit.
 *
 * Why not a rate-limit library: the well-kept ones keep fixed-window (or
 * token-bucket) counters, and none offers the shared "pause this practice
 * until the next calendar minute" that a 429 calls for. The whole check is
 * one Lua script (atomic on the server), run with Redis' own clock
 * (`TIME`) so machines with drifting clocks still agree.
 */

export const DEFAULT_WINDOW_MS = 60_000
export const DEFAULT_ACQUIRE_MAX_WAIT_MS = 180_000
/** Healow's minute and ours are on different clocks: wait this much past the boundary. */
export const DEFAULT_PAUSE_MARGIN_MS = 1_000
const MAX_JITTER_MS = 25

export const BudgetTimeoutError = createError<'HEALOW_ERR_BUDGET_TIMEOUT', 503, [string, number]>(
  'HEALOW_ERR_BUDGET_TIMEOUT', 'No call budget for practice %s within %d ms', 503)

export interface BudgetDecision {
  ok: boolean
  /** 0 when ok; otherwise how long until a call may succeed. */
  retryAfterMs: number
  reason?: 'budget' | 'paused'
  /** Redis server time (epoch ms) the call was counted at, when ok. */
  at?: number
}

export interface PracticeBudget {
  /** Counts one call if the budget allows it; never waits. */
  take (practice: string): Promise<BudgetDecision>
  /**
   * Takes one call, sleeping while the budget is spent or the practice is
   * paused. Throws `HEALOW_ERR_BUDGET_TIMEOUT` as soon as it is clear no
   * call can be had within `maxWaitMs`; rejects with the signal's reason on abort.
   */
  acquire (practice: string, options?: { signal?: AbortSignal, maxWaitMs?: number }): Promise<void>
  /** After a 429: stops every process calling the practice until `untilMs` (epoch ms), by default the next calendar minute plus a margin. */
  pause (practice: string, untilMs?: number): Promise<void>
  /** Milliseconds the practice stays paused; 0 if it is not. */
  pausedFor (practice: string): Promise<number>
}

export interface PracticeBudgetOptions {
  redis: Redis
  keys: Keys
  limitPerMinute: number
  windowMs?: number
  pauseMarginMs?: number
  /**
   * Added to the window the call log spans. A call is counted here when it
   * is granted but at the practice when it arrives; the guard absorbs the
   * difference in transit between calls, so no practice window sees more
   * than the limit. Default: 2% of the window, at least 250 ms.
   */
  transitGuardMs?: number
}

// KEYS: budget log, pause key. ARGV: limit, window ms, unique member.
// Returns {1, 0, now} | {0, wait ms, reason}.
const TAKE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local pausedUntil = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if pausedUntil > now then
  return {0, pausedUntil - now, 'paused'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0, now}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now, 'budget'}
`

// KEYS: pause key. ARGV: until (epoch ms, or '' for the next window boundary: the
// next calendar minute with Healow's 60 s window), margin ms, window ms.
// A pause never shortens a longer one already set.
const PAUSE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = tonumber(ARGV[1])
if untilMs == nil then
  local window = tonumber(ARGV[3])
  untilMs = (math.floor(now / window) + 1) * window + tonumber(ARGV[2])
end
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if untilMs <= now or untilMs <= current then
  return 0
end
redis.call('SET', KEYS[1], untilMs, 'PX', untilMs - now)
return untilMs - now
`

interface BudgetCommands {
  healowBudgetTake (budgetKey: string, pauseKey: string, limit: number, windowMs: number, member: string): Promise<[number, number, string | number]>
  healowBudgetPause (pauseKey: string, untilMs: string, marginMs: number, windowMs: number): Promise<number>
}

function defineCommands (redis: Redis): BudgetCommands {
  const client = redis as Redis & Partial<BudgetCommands>
  if (typeof client.healowBudgetTake !== 'function') {
    redis.defineCommand('healowBudgetTake', { numberOfKeys: 2, lua: TAKE_LUA })
  }
  if (typeof client.healowBudgetPause !== 'function') {
    redis.defineCommand('healowBudgetPause', { numberOfKeys: 1, lua: PAUSE_LUA })
  }
  return client as Redis & BudgetCommands
}

function checkPositiveInteger (value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive whole number`)
}

/** Builds the shared budget; the Lua scripts are registered on `redis` with `defineCommand`. */
export function createPracticeBudget (options: PracticeBudgetOptions): PracticeBudget {
  const { redis, keys, limitPerMinute } = options
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS
  const marginMs = options.pauseMarginMs ?? DEFAULT_PAUSE_MARGIN_MS
  checkPositiveInteger(limitPerMinute, 'limitPerMinute')
  checkPositiveInteger(windowMs, 'windowMs')
  const logSpanMs = windowMs + (options.transitGuardMs ?? Math.max(250, Math.round(windowMs * 0.02)))
  const commands = defineCommands(redis)
  // Members must be unique across processes: two calls in the same
  // millisecond are still two calls.
  const processTag = randomBytes(6).toString('base64url')
  let sequence = 0

  async function take (practice: string): Promise<BudgetDecision> {
    const member = `${processTag}.${(sequence++).toString(36)}`
    const [ok, wait, extra] = await commands.healowBudgetTake(
      keys.practiceBudget(practice), keys.practicePause(practice), limitPerMinute, logSpanMs, member)
    if (ok === 1) return { ok: true, retryAfterMs: 0, at: Number(extra) }
    return { ok: false, retryAfterMs: Math.max(1, Number(wait)), reason: extra === 'paused' ? 'paused' : 'budget' }
  }

  async function acquire (practice: string, opts: { signal?: AbortSignal, maxWaitMs?: number } = {}): Promise<void> {
    const { signal } = opts
    const maxWaitMs = opts.maxWaitMs ?? DEFAULT_ACQUIRE_MAX_WAIT_MS
    const deadline = Date.now() + maxWaitMs
    for (;;) {
      signal?.throwIfAborted()
      const decision = await take(practice)
      if (decision.ok) return
      const delay = decision.retryAfterMs + Math.floor(Math.random() * MAX_JITTER_MS)
      // Nothing frees a slot before its oldest entry ages out, and a pause
      // is never lifted early: a wait past the deadline cannot succeed.
      if (Date.now() + decision.retryAfterMs > deadline) {
        throw new BudgetTimeoutError(practice, maxWaitMs)
      }
      try {
        await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), undefined, signal === undefined ? undefined : { signal })
      } catch (err) {
        if (signal?.aborted === true) throw signal.reason
        throw err
      }
    }
  }

  async function pause (practice: string, untilMs?: number): Promise<void> {
    await commands.healowBudgetPause(keys.practicePause(practice), untilMs === undefined ? '' : String(Math.floor(untilMs)), marginMs, windowMs)
  }

  async function pausedFor (practice: string): Promise<number> {
    const ttl = await redis.pttl(keys.practicePause(practice))
    return ttl > 0 ? ttl : 0
  }

  return { take, acquire, pause, pausedFor }
}
