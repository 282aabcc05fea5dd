import type { Redis } from 'ioredis'
import type { Logger } from './context.js'
import { tokenAad, type ConnectionStore } from './connections.js'
import { DecryptError, writeIdOf, type Keyring } from './crypto.js'
import { isSafeId, type Keys } from './keys.js'
import { recordAad } from './record-store.js'

/**
 * Re-seals every stored token and record with the newest key, so an old key
 * can be dropped from HEALOW_ENCRYPTION_KEY without downtime.
 *
 * Values are read with HSCAN in batches (memory is bounded by one batch,
 * not by the number of records) and written back with a compare-and-set
 * script: a value is replaced only while it is still the one read, so a
 * sync or token refresh that wrote a newer value in between always wins.
 * The plaintext is unchanged, so no change sequence moves; a record-store
 * page write racing with us sees a different value, fails its own
 * compare-and-set and simply compares again. Values already on the newest
 * key are not touched, so a second run writes nothing.
 */

export const DEFAULT_RESEAL_BATCH = 100

export interface ResealOptions {
  redis: Redis
  keys: Keys
  /** Keys newest first: the first seals, every one opens. */
  keyring: Keyring
  connections: Pick<ConnectionStore, 'listIds'>
  log?: Pick<Logger, 'info' | 'warn'>
  /** HSCAN COUNT hint per round trip (default {@link DEFAULT_RESEAL_BATCH}). */
  batchSize?: number
}

export interface ResealSummary {
  /** Connection ids visited. */
  connections: number
  /** Token sets re-sealed with the newest key. */
  tokens: number
  /** Records re-sealed with the newest key. */
  records: number
  /** Values already on the newest key, left as they are. */
  alreadyCurrent: number
  /** Values another writer replaced between our read and our write: left to that writer; run again to check them. */
  changedMeanwhile: number
  /** Values no configured key opens (a key already removed, or damage): left as they are. */
  unreadable: number
}

// The expected value is the stored value's prefix through its GCM tag
// (`v1.<key>.<iv>.<tag>.`): IVs are random, so it names one write, and the
// ciphertext is not sent back. ARGV: triples of field, expected, sealed.
const RECORDS_CAS_LUA = `
local written = 0
for i = 1, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if current and string.sub(current, 1, string.len(ARGV[i + 1])) == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    written = written + 1
  end
end
return written
`

// KEEPTTL: re-sealing must not change how long a value lives.
const TOKEN_CAS_LUA = `
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, string.len(ARGV[1])) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
`

interface ResealCommands {
  healowResealRecords (numberOfKeys: number, ...keysAndArgs: string[]): Promise<number>
  healowResealToken (numberOfKeys: number, ...keysAndArgs: string[]): Promise<number>
}

function commandsOf (redis: Redis): Redis & ResealCommands {
  const client = redis as Redis & Partial<ResealCommands>
  if (typeof client.healowResealRecords !== 'function') redis.defineCommand('healowResealRecords', { lua: RECORDS_CAS_LUA })
  if (typeof client.healowResealToken !== 'function') redis.defineCommand('healowResealToken', { lua: TOKEN_CAS_LUA })
  return client as Redis & ResealCommands
}

/**
 * Replaces each record field with `sealed` only while it still holds the
 * value `expected` that was read. Returns how many were written.
 */
export async function compareAndSetRecords (redis: Redis, recordsKey: string, entries: Array<{ field: string, expected: string, sealed: string }>): Promise<number> {
  if (entries.length === 0) return 0
  const args = entries.flatMap(({ field, expected, sealed }) => [field, writeIdOf(expected), sealed])
  return await commandsOf(redis).healowResealRecords(1, recordsKey, ...args)
}

/** Replaces the token value with `sealed` only while it still holds `expected`. */
export async function compareAndSetToken (redis: Redis, tokensKey: string, expected: string, sealed: string): Promise<boolean> {
  return await commandsOf(redis).healowResealToken(1, tokensKey, writeIdOf(expected), sealed) === 1
}

/** `keyring.reseal`, or undefined when no configured key opens the value. */
function tryReseal (keyring: Keyring, sealed: string, aad: string): string | undefined {
  try {
    return keyring.reseal(sealed, aad)
  } catch (err) {
    if (err instanceof DecryptError) return undefined
    throw err
  }
}

async function resealToken (options: ResealOptions, id: string, summary: ResealSummary): Promise<void> {
  const { redis, keys, keyring } = options
  const key = keys.tokens(id)
  const stored = await redis.get(key)
  if (stored === null) return
  if (!keyring.needsRotation(stored)) {
    summary.alreadyCurrent++
    return
  }
  const sealed = tryReseal(keyring, stored, tokenAad(id))
  if (sealed === undefined) {
    summary.unreadable++
    return
  }
  if (await compareAndSetToken(redis, key, stored, sealed)) summary.tokens++
  else summary.changedMeanwhile++
}

async function resealRecords (options: ResealOptions, id: string, summary: ResealSummary): Promise<void> {
  const { redis, keys, keyring } = options
  const key = keys.records(id)
  const count = options.batchSize ?? DEFAULT_RESEAL_BATCH
  let cursor = '0'
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', count)
    cursor = next
    const batch: Array<{ field: string, expected: string, sealed: string }> = []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = flat[i]!
      const stored = flat[i + 1]!
      if (!keyring.needsRotation(stored)) {
        summary.alreadyCurrent++
        continue
      }
      const sealed = tryReseal(keyring, stored, recordAad(id, field))
      if (sealed === undefined) {
        summary.unreadable++
        continue
      }
      batch.push({ field, expected: stored, sealed })
    }
    const written = await compareAndSetRecords(redis, key, batch)
    summary.records += written
    summary.changedMeanwhile += batch.length - written
  } while (cursor !== '0')
}

/**
 * Re-seals, for every connection, the token set and each record not sealed
 * with the newest key, never overwriting a value written meanwhile.
 * Idempotent: a second run re-seals nothing.
 */
export async function resealAll (options: ResealOptions): Promise<ResealSummary> {
  const summary: ResealSummary = { connections: 0, tokens: 0, records: 0, alreadyCurrent: 0, changedMeanwhile: 0, unreadable: 0 }
  const ids = await options.connections.listIds()
  for (const id of ids) {
    // The index only holds ids we minted; anything else cannot name a key.
    if (!isSafeId(id)) continue
    summary.connections++
    const before = summary.unreadable
    await resealToken(options, id, summary)
    await resealRecords(options, id, summary)
    if (summary.unreadable > before) {
      options.log?.warn({ connectionId: id, unreadable: summary.unreadable - before }, 'values that open with no configured key were left as they are')
    }
  }
  options.log?.info({ ...summary }, 'reseal finished')
  return summary
}
