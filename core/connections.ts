import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { Keyring } from './crypto.js'
import type { Tenant } from './directory.js'
import { isSafeId, type Keys } from './keys.js'
import type { TokenSet } from './oauth.js'
import { createRecordStore } from './record-store.js'

export type ConnectionMode = 'confidential' | 'public'
export type ConnectionState = 'active' | 'reauth_required'

/** A patient's link to one practice, owned by one user. Holds no token. */
export interface Connection {
  id: string
  userId: string
  practiceId: string
  practiceName: string
  fhirBaseUrl: string
  patientId: string
  mode: ConnectionMode
  state: ConnectionState
  /** Why re-authentication is needed (`invalid_grant`, `token_expired`). */
  reauthReason: string | undefined
  scope: string
  /** Sequence number that spreads this connection's schedule over the interval. */
  slot: number
  createdAt: number
  updatedAt: number
  /** When the access token expires (epoch ms); not secret. */
  tokenExpiresAt: number
  hasRefreshToken: boolean
}

const connectionSchema = z.object({
  id: z.string(),
  userId: z.string(),
  practiceId: z.string(),
  practiceName: z.string(),
  fhirBaseUrl: z.string(),
  patientId: z.string(),
  mode: z.enum(['confidential', 'public']),
  state: z.enum(['active', 'reauth_required']),
  reauthReason: z.string().optional(),
  scope: z.string(),
  slot: z.coerce.number(),
  createdAt: z.coerce.number(),
  updatedAt: z.coerce.number(),
  tokenExpiresAt: z.coerce.number(),
  hasRefreshToken: z.string().transform((v) => v === '1')
})

const tokensSchema = z.object({
  accessToken: z.string(),
  refreshToken: z.string().optional(),
  expiresAt: z.number(),
  obtainedAt: z.number().default(0),
  scope: z.string(),
  patientId: z.string().optional()
})

/** The AAD a connection's token set is sealed with. */
export function tokenAad (connectionId: string): string {
  return `tokens:${connectionId}`
}

export interface ConnectionStore {
  /** One connection per (user, practice, patient): connecting again updates it. */
  upsert (input: { userId: string, tenant: Tenant, patientId: string, mode: ConnectionMode, tokens: TokenSet }): Promise<{ connection: Connection, created: boolean }>
  get (id: string): Promise<Connection | undefined>
  /** The connection when `userId` owns it; otherwise undefined, as if it did not exist. */
  getOwned (userId: string, id: string): Promise<Connection | undefined>
  listOwned (userId: string): Promise<Connection[]>
  /** Every connection id (for the worker's maintenance and tests). */
  listIds (): Promise<string[]>
  readTokens (id: string): Promise<TokenSet | undefined>
  /** Stores a token set (encrypted) and its expiry; the rotated refresh token lands before anyone uses the new access token. */
  writeTokens (id: string, tokens: TokenSet): Promise<void>
  markReauthRequired (id: string, reason: string): Promise<void>
  /** Removes the connection, its tokens, records and status. Returns false when there was none. */
  remove (id: string): Promise<Connection | undefined>
  /**
   * Calls `listener` with the id of every connection this process changes
   * (tokens, state, removal), so in-process caches drop it at once. Returns
   * a function that stops the calls.
   */
  onChange (listener: (id: string) => void): () => void
}

/** Builds the Redis-backed connection store; tokens are sealed with `keyring`. */
export function createConnectionStore (options: { redis: Redis, keys: Keys, keyring: Keyring, keyPrefix: string }): ConnectionStore {
  const { redis, keys, keyring } = options
  const slotKey = `${options.keyPrefix}:schedule-slot`
  const ownerField = (practiceId: string, patientId: string): string => `${practiceId}|${patientId}`
  const records = createRecordStore({ redis, keys, keyring })
  const listeners = new Set<(id: string) => void>()
  const changed = (id: string): void => { for (const listener of listeners) listener(id) }

  async function get (id: string): Promise<Connection | undefined> {
    if (!isSafeId(id)) return undefined
    const raw = await redis.hgetall(keys.connection(id))
    if (raw.id === undefined) return undefined
    const parsed = connectionSchema.safeParse(raw)
    return parsed.success ? { ...parsed.data, reauthReason: parsed.data.reauthReason } : undefined
  }

  async function writeTokens (id: string, tokens: TokenSet): Promise<void> {
    const sealed = keyring.encrypt(JSON.stringify(tokens), tokenAad(id))
    // One slot ({c:id}): the token set and its non-secret summary change together.
    await redis.multi()
      .set(keys.tokens(id), sealed)
      .hset(keys.connection(id), {
        tokenExpiresAt: tokens.expiresAt,
        hasRefreshToken: tokens.refreshToken !== undefined ? '1' : '0',
        scope: tokens.scope,
        updatedAt: Date.now()
      })
      .exec()
    changed(id)
  }

  async function upsert (input: Parameters<ConnectionStore['upsert']>[0]): Promise<{ connection: Connection, created: boolean }> {
    const { userId, tenant, patientId, mode, tokens } = input
    const userKey = keys.userConnections(userId)
    const field = ownerField(tenant.id, patientId)
    // HSETNX makes two simultaneous callbacks for the same patient agree on one id.
    const candidate = randomBytes(16).toString('base64url')
    const created = await redis.hsetnx(userKey, field, candidate) === 1
    const id = created ? candidate : (await redis.hget(userKey, field)) ?? candidate
    const existing = await get(id)
    const now = Date.now()
    const slot = existing?.slot ?? await redis.incr(slotKey)
    await redis.multi()
      .hset(keys.connection(id), {
        id,
        userId,
        practiceId: tenant.id,
        practiceName: tenant.name,
        fhirBaseUrl: tenant.url,
        patientId,
        mode,
        state: 'active',
        slot,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now
      })
      .hdel(keys.connection(id), 'reauthReason')
      .exec()
    await writeTokens(id, tokens)
    await redis.sadd(keys.connectionIndex(), id)
    const connection = await get(id)
    if (connection === undefined) throw new Error('connection vanished while being written')
    return { connection, created: existing === undefined }
  }

  async function getOwned (userId: string, id: string): Promise<Connection | undefined> {
    const connection = await get(id)
    return connection !== undefined && connection.userId === userId ? connection : undefined
  }

  async function listOwned (userId: string): Promise<Connection[]> {
    const ids = await redis.hvals(keys.userConnections(userId))
    const found = await Promise.all([...new Set(ids)].map(async (id) => await getOwned(userId, id)))
    return found.filter((c): c is Connection => c !== undefined).sort((a, b) => a.createdAt - b.createdAt)
  }

  async function readTokens (id: string): Promise<TokenSet | undefined> {
    if (!isSafeId(id)) return undefined
    const sealed = await redis.get(keys.tokens(id))
    if (sealed === null) return undefined
    const tokens = tokensSchema.parse(JSON.parse(keyring.decryptString(sealed, tokenAad(id))))
    return { ...tokens, refreshToken: tokens.refreshToken, patientId: tokens.patientId }
  }

  async function markReauthRequired (id: string, reason: string): Promise<void> {
    if (await get(id) === undefined) return
    await redis.hset(keys.connection(id), { state: 'reauth_required', reauthReason: reason, updatedAt: Date.now() })
    changed(id)
  }

  async function remove (id: string): Promise<Connection | undefined> {
    const connection = await get(id)
    if (connection === undefined) return undefined
    // The record store knows its own keys (sequence, per-type sets): it removes them.
    await records.removeAll(id)
    await redis.del(keys.tokens(id), keys.syncStatus(id), keys.manualSync(id), keys.connection(id))
    await redis.hdel(keys.userConnections(connection.userId), ownerField(connection.practiceId, connection.patientId))
    await redis.srem(keys.connectionIndex(), id)
    changed(id)
    return connection
  }

  async function listIds (): Promise<string[]> {
    return await redis.smembers(keys.connectionIndex())
  }

  function onChange (listener: (id: string) => void): () => void {
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }

  return { upsert, get, getOwned, listOwned, listIds, readTokens, writeTokens, markReauthRequired, remove, onChange }
}
