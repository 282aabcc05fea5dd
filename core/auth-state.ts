import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { Keyring } from './crypto.js'
import { isSafeId, type Keys } from './keys.js'

/** A pending authorization lives ten minutes: long enough to sign in, short enough to be useless later. */
export const DEFAULT_AUTH_STATE_TTL_MS = 600_000

const pendingSchema = z.object({
  userId: z.string(),
  tenantId: z.string(),
  codeVerifier: z.string(),
  nonce: z.string(),
  returnTo: z.string(),
  createdAt: z.number()
})

export type PendingAuthorizationRecord = z.infer<typeof pendingSchema>

export interface AuthStateStore {
  save (state: string, pending: PendingAuthorizationRecord): Promise<void>
  /** Returns and deletes the pending authorization: a state works once. */
  take (state: string): Promise<PendingAuthorizationRecord | undefined>
}

/**
 * Pending authorizations by OAuth `state`, in Redis so the callback may land
 * on any instance. The PKCE verifier and nonce are sealed like tokens.
 */
export function createAuthStateStore (options: { redis: Redis, keys: Keys, keyring: Keyring, ttlMs?: number }): AuthStateStore {
  const { redis, keys, keyring } = options
  const ttlMs = options.ttlMs ?? DEFAULT_AUTH_STATE_TTL_MS
  const aad = (state: string): string => `auth:${state}`
  return {
    async save (state, pending) {
      const sealed = keyring.encrypt(JSON.stringify(pending), aad(state))
      const ok = await redis.set(keys.authState(state), sealed, 'PX', ttlMs, 'NX')
      if (ok !== 'OK') throw new Error('state collision')
    },
    async take (state) {
      if (!isSafeId(state)) return undefined
      // GETDEL (Redis 6.2): the read and the delete are one step, so a replay finds nothing.
      const sealed = await redis.getdel(keys.authState(state))
      if (sealed === null) return undefined
      const parsed = pendingSchema.safeParse(JSON.parse(keyring.decryptString(sealed, aad(state))))
      if (!parsed.success || Date.now() - parsed.data.createdAt > ttlMs) return undefined
      return parsed.data
    }
  }
}
