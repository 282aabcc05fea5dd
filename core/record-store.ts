import createError from '@fastify/error'
import type { Redis } from 'ioredis'
import { writeIdOf, type Keyring } from './crypto.js'
import type { Keys } from './keys.js'

/**
 * The synced records of each connection, encrypted at rest.
 *
 * Layout (every key carries the connection's `{c:<id>}` hash tag, so the
 * write script is Redis-Cluster safe):
 * - `records` hash: `Type/id` to the sealed canonical JSON (AES-256-GCM,
 *   the connection id and `Type/id` bound as associated data, so a value
 *   moved to another field or connection does not open);
 * - `changes` sorted set: `Type/id` scored by the change sequence it was
 *   last written at, for `since` cursors, and `changes:<Type>` the same for
 *   one type, so a filtered listing pages by score too;
 * - `records:seq`: the connection's sequence counter;
 * - `records:types`: hash of type to record count (read in O(types)).
 *
 * Change detection compares canonical JSON (key order ignored) and counts
 * `meta` as content: a new `versionId` or `lastUpdated` from the practice is
 * a change. Stored values are sealed with a random IV, so the comparison
 * happens here after opening them, and the write is a compare-and-set
 * script: if another process wrote one of the page's records in between,
 * nothing is written and the page is compared again. A page stored twice
 * (a retried job) therefore writes nothing and moves no sequence.
 */

export interface StoredRecord { type: string, id: string, seq: number, resource: Record<string, unknown> }
export interface UpsertResult { added: number, updated: number, unchanged: number }

export interface RecordStore {
  /** Stores one page of resources for a connection: idempotent, encrypted, and only changed records get a new change sequence. */
  upsertPage (connectionId: string, resources: Array<{ resourceType: string, id: string, [key: string]: unknown }>): Promise<UpsertResult>
  /**
   * Records changed after `since` (a sequence number; 0 = all), ordered by
   * sequence, at most `limit` (default 100, at most 1000), optionally of one
   * type. `nextSince` is set when more follow: pass it as `since` to go on.
   */
  listChanges (connectionId: string, options: { since?: number, type?: string, limit?: number }): Promise<{ records: StoredRecord[], nextSince: number | undefined }>
  countByType (connectionId: string): Promise<Record<string, number>>
  get (connectionId: string, type: string, id: string): Promise<Record<string, unknown> | undefined>
  /** Whether the record is stored, without reading or opening it. */
  has (connectionId: string, type: string, id: string): Promise<boolean>
  /** The last change sequence handed out (0 when none): a `since` for "changes from now on". */
  latestSeq (connectionId: string): Promise<number>
  /** Deletes every key of the connection's records (records, changes, counters). */
  removeAll (connectionId: string): Promise<void>
}

export const DEFAULT_LIST_LIMIT = 100
export const MAX_LIST_LIMIT = 1000
const MAX_CONFLICT_RETRIES = 5
const TYPE_RE = /^[A-Za-z]{1,64}$/
/** FHIR ids are `[A-Za-z0-9\-.]{1,64}`; a little more is tolerated, never `/` or whitespace. */
const ID_RE = /^[A-Za-z0-9\-._~:@!$*+,;=]{1,256}$/

export const InvalidRecordError = createError<'HEALOW_ERR_INVALID_RECORD', 502, [string]>(
  'HEALOW_ERR_INVALID_RECORD', 'A record cannot be stored: %s', 502)
export const RecordConflictError = createError<'HEALOW_ERR_RECORD_CONFLICT', 503, [number]>(
  'HEALOW_ERR_RECORD_CONFLICT', 'Records kept changing under a page write; gave up after %d tries', 503)

/**
 * The fixed keys of a connection's records: records, changes, seq, types.
 * Per-type change sets (`<changes>:<Type>`) come on top: use
 * {@link RecordStore.removeAll} to delete everything.
 */
export function recordStoreKeys (keys: Keys, connectionId: string): [string, string, string, string] {
  const records = keys.records(connectionId)
  return [records, keys.recordChanges(connectionId), `${records}:seq`, `${records}:types`]
}

function typeChangesKey (keys: Keys, connectionId: string, type: string): string {
  return `${keys.recordChanges(connectionId)}:${type}`
}

// KEYS: records, changes, seq, types, then one per-type changes set per type
// in the page. ARGV: n, then per record: field, expected (the stored value's
// prefix through its GCM tag, '' when absent), sealed, type, index of its
// type's key. All expectations are checked before anything is written.
// Records gone but counts left (a delete that knew only some keys): the
// leftovers are cleared first; their names share the `{c:<id>}` tag, so
// they sit in this slot.
const WRITE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  for _, t in ipairs(redis.call('HKEYS', KEYS[4])) do redis.call('DEL', KEYS[2] .. ':' .. t) end
  redis.call('DEL', KEYS[4])
end
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local at = 2 + i * 5
  local current = redis.call('HGET', KEYS[1], ARGV[at])
  local expected = ARGV[at + 1]
  if expected == '' then
    if current then return -1 end
  elseif (not current) or string.sub(current, 1, string.len(expected)) ~= expected then
    return -1
  end
end
for i = 0, n - 1 do
  local at = 2 + i * 5
  local seq = redis.call('INCR', KEYS[3])
  redis.call('HSET', KEYS[1], ARGV[at], ARGV[at + 2])
  redis.call('ZADD', KEYS[2], seq, ARGV[at])
  redis.call('ZADD', KEYS[tonumber(ARGV[at + 4])], seq, ARGV[at])
  if ARGV[at + 1] == '' then redis.call('HINCRBY', KEYS[4], ARGV[at + 3], 1) end
end
return n
`

interface StoreCommands {
  healowRecordsWrite (numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>
}

/** JSON with object keys in a fixed order (resourceType, id, then by name), so equal content gives equal text. */
export function canonicalJson (value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function rank (key: string): number {
  return key === 'resourceType' ? 0 : key === 'id' ? 1 : 2
}

function sortKeys (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (typeof value !== 'object' || value === null) return value
  const keys = Object.keys(value).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
  const out: Record<string, unknown> = {}
  for (const key of keys) out[key] = sortKeys((value as Record<string, unknown>)[key])
  return out
}

function fieldOf (type: string, id: string): string {
  if (!TYPE_RE.test(type)) throw new InvalidRecordError('the resource type is not a FHIR type name')
  if (!ID_RE.test(id)) throw new InvalidRecordError(`a ${type} id is not a valid FHIR id`)
  return `${type}/${id}`
}

/** The AAD a record is sealed with: its connection and `Type/id`, so a value moved elsewhere fails to open. */
export function recordAad (connectionId: string, field: string): string {
  return `record:${connectionId}:${field}`
}

/** Builds the store; the write script is registered on `redis` with `defineCommand`. */
export function createRecordStore (options: { redis: Redis, keys: Keys, keyring: Keyring }): RecordStore {
  const { redis, keys, keyring } = options
  const client = redis as Redis & Partial<StoreCommands>
  if (typeof client.healowRecordsWrite !== 'function') redis.defineCommand('healowRecordsWrite', { lua: WRITE_LUA })
  const commands = client as Redis & StoreCommands

  /** Opens a stored value; `undefined` when it does not open (a dropped key): it is then simply rewritten. */
  function open (connectionId: string, field: string, sealed: string): string | undefined {
    try { return keyring.decryptString(sealed, recordAad(connectionId, field)) } catch { return undefined }
  }

  async function tryWrite (connectionId: string, page: Map<string, { type: string, json: string }>): Promise<UpsertResult | undefined> {
    const fields = [...page.keys()]
    const stored = fields.length === 0 ? [] : await redis.hmget(keys.records(connectionId), ...fields)
    const result: UpsertResult = { added: 0, updated: 0, unchanged: 0 }
    const args: Array<string | number> = []
    const typeKeys: string[] = []
    fields.forEach((field, i) => {
      const { type, json } = page.get(field)!
      const current = stored[i] ?? null
      if (current !== null && open(connectionId, field, current) === json) {
        result.unchanged++
        return
      }
      if (current === null) result.added++
      else result.updated++
      const typeKey = typeChangesKey(keys, connectionId, type)
      if (!typeKeys.includes(typeKey)) typeKeys.push(typeKey)
      args.push(field, current === null ? '' : writeIdOf(current), keyring.encrypt(json, recordAad(connectionId, field)), type, 5 + typeKeys.indexOf(typeKey))
    })
    if (args.length === 0) return result
    const fixed = recordStoreKeys(keys, connectionId)
    const written = await commands.healowRecordsWrite(4 + typeKeys.length, ...fixed, ...typeKeys, args.length / 5, ...args)
    return written < 0 ? undefined : result
  }

  async function upsertPage (connectionId: string, resources: Array<{ resourceType: string, id: string, [key: string]: unknown }>): Promise<UpsertResult> {
    keys.records(connectionId) // checks the id before any work
    // A page naming a record twice keeps the last one, as the practice's order says.
    const page = new Map<string, { type: string, json: string }>()
    for (const resource of resources) {
      page.set(fieldOf(resource.resourceType, resource.id), { type: resource.resourceType, json: canonicalJson(resource) })
    }
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      const result = await tryWrite(connectionId, page)
      if (result !== undefined) return result
    }
    throw new RecordConflictError(MAX_CONFLICT_RETRIES)
  }

  async function readRecords (connectionId: string, entries: Array<[string, number]>): Promise<StoredRecord[]> {
    if (entries.length === 0) return []
    const sealed = await redis.hmget(keys.records(connectionId), ...entries.map(([field]) => field))
    const out: StoredRecord[] = []
    entries.forEach(([field, seq], i) => {
      const value = sealed[i]
      if (value === null || value === undefined) return
      const slash = field.indexOf('/')
      const resource = JSON.parse(keyring.decryptString(value, recordAad(connectionId, field))) as Record<string, unknown>
      out.push({ type: field.slice(0, slash), id: field.slice(slash + 1), seq, resource })
    })
    return out
  }

  async function rangeAfter (key: string, after: number, count: number): Promise<Array<[string, number]>> {
    const flat = await redis.zrangebyscore(key, `(${after}`, '+inf', 'WITHSCORES', 'LIMIT', 0, count)
    const out: Array<[string, number]> = []
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])])
    return out
  }

  async function listChanges (connectionId: string, opts: { since?: number, type?: string, limit?: number } = {}): Promise<{ records: StoredRecord[], nextSince: number | undefined }> {
    const since = opts.since ?? 0
    const limit = opts.limit ?? DEFAULT_LIST_LIMIT
    if (!Number.isSafeInteger(since) || since < 0) throw new RangeError('since must be a non-negative whole number')
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw new RangeError(`limit must be from 1 to ${MAX_LIST_LIMIT}`)
    if (opts.type !== undefined && !TYPE_RE.test(opts.type)) throw new RangeError('type must be a FHIR type name')
    const key = opts.type === undefined ? keys.recordChanges(connectionId) : typeChangesKey(keys, connectionId, opts.type)
    // One more than asked says whether another page follows.
    const entries = await rangeAfter(key, since, limit + 1)
    const page = entries.slice(0, limit)
    const nextSince = entries.length > limit ? page[page.length - 1]![1] : undefined
    return { records: await readRecords(connectionId, page), nextSince }
  }

  async function countByType (connectionId: string): Promise<Record<string, number>> {
    const [records, , , types] = recordStoreKeys(keys, connectionId)
    // One MULTI: a counts hash left behind by a partial delete is ignored once the records are gone.
    const replies = await redis.multi().exists(records).hgetall(types).exec()
    const exists = replies?.[0]?.[1]
    const counts = (replies?.[1]?.[1] ?? {}) as Record<string, string>
    const out: Record<string, number> = {}
    if (exists !== 1) return out
    for (const type of Object.keys(counts).sort()) out[type] = Number(counts[type])
    return out
  }

  async function get (connectionId: string, type: string, id: string): Promise<Record<string, unknown> | undefined> {
    // A name that could never have been stored is simply not found.
    if (!TYPE_RE.test(type) || !ID_RE.test(id)) return undefined
    const field = `${type}/${id}`
    const sealed = await redis.hget(keys.records(connectionId), field)
    return sealed === null ? undefined : JSON.parse(keyring.decryptString(sealed, recordAad(connectionId, field))) as Record<string, unknown>
  }

  async function has (connectionId: string, type: string, id: string): Promise<boolean> {
    if (!TYPE_RE.test(type) || !ID_RE.test(id)) return false
    return await redis.hexists(keys.records(connectionId), `${type}/${id}`) === 1
  }

  return {
    upsertPage,
    listChanges,
    countByType,
    get,
    has,
    latestSeq: async (connectionId) => Number(await redis.get(recordStoreKeys(keys, connectionId)[2]) ?? 0),
    removeAll: async (connectionId) => {
      const fixed = recordStoreKeys(keys, connectionId)
      const types = await redis.hkeys(fixed[3])
      await redis.del(...fixed, ...types.map((type) => typeChangesKey(keys, connectionId, type)))
    }
  }
}
