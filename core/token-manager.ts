import type { Connection } from './connections.js'
import type { HealowCore } from './context.js'
import { ReauthRequiredError, UnknownPracticeError } from './errors.js'
import { withLock } from './lock.js'
import type { TokenSet } from './oauth.js'
import { removeSchedule } from './sync-jobs.js'

/** Refresh when the access token has less than this left (Healow's live about an hour)... */
export const REFRESH_AHEAD_MS = 5 * 60_000

/** ...or less than a quarter of its lifetime, for short-lived tokens. */
export function isExpiring (tokens: { expiresAt: number, obtainedAt: number }, now = Date.now()): boolean {
  const lifetime = tokens.expiresAt - tokens.obtainedAt
  const ahead = lifetime > 0 ? Math.min(REFRESH_AHEAD_MS, lifetime / 4) : REFRESH_AHEAD_MS
  return tokens.expiresAt - now < ahead
}
/** Longer than a token call under its timeout, so a slow refresh keeps the lock. */
const REFRESH_LOCK_TTL_MS = 60_000

export interface TokenManager {
  /** A usable access token, refreshed first when it expires within {@link REFRESH_AHEAD_MS}. */
  getAccessToken (connection: Connection): Promise<string>
  /** After a 401 with `staleToken`: refreshes unless another process already did, and returns the new token. */
  refreshAfterUnauthorized (connection: Connection, staleToken: string): Promise<string>
}

type Deps = Pick<HealowCore, 'connections' | 'oauth' | 'directory' | 'redis' | 'keys' | 'log' | 'syncQueue'>

/**
 * Single-flight token refresh across every process. Healow's refresh tokens
 * are single use and rotate: two processes refreshing the same connection at
 * once would burn it. So one refresh per connection at a time (a Redis lock);
 * the others wait and then read what the holder stored. The rotated refresh
 * token is stored before the new access token is handed to anyone.
 */
export function createTokenManager (deps: Deps): TokenManager {
  const { connections, oauth, directory, redis, keys, log } = deps

  async function reauth (connection: Connection, reason: string): Promise<never> {
    await connections.markReauthRequired(connection.id, reason)
    await removeSchedule(deps.syncQueue, connection.id).catch(() => {})
    log.warn({ connectionId: connection.id, reason }, 'connection needs the user to sign in again')
    throw new ReauthRequiredError(reason)
  }

  async function refresh (connection: Connection, isStale: (tokens: TokenSet) => boolean): Promise<string> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = await withLock(redis, keys.refreshLock(connection.id), async () => {
        // Read again under the lock: another process may have refreshed already.
        const current = await connections.readTokens(connection.id)
        if (current === undefined) throw new ReauthRequiredError('connection removed')
        if (!isStale(current)) return current.accessToken
        if (current.refreshToken === undefined) return await reauth(connection, 'token_expired')
        const tenant = directory.get(connection.practiceId)
        if (tenant === undefined) throw new UnknownPracticeError(connection.practiceId)
        try {
          const next = await oauth.refresh({ ...tenant, url: connection.fhirBaseUrl }, current.refreshToken)
          await connections.writeTokens(connection.id, { ...next, patientId: next.patientId ?? current.patientId })
          log.info({ connectionId: connection.id }, 'token refreshed')
          return next.accessToken
        } catch (err) {
          if ((err as { code?: string }).code === 'HEALOW_ERR_REAUTH_REQUIRED') return await reauth(connection, 'invalid_grant')
          throw err
        }
      }, { ttlMs: REFRESH_LOCK_TTL_MS, waitMs: REFRESH_LOCK_TTL_MS })
      if (result.acquired) return result.value
      // The holder finished (or its lock lapsed): use what it stored, or try to lead once more.
      const stored = await connections.readTokens(connection.id)
      if (stored !== undefined && !isStale(stored)) return stored.accessToken
    }
    throw new ReauthRequiredError('token refresh did not complete')
  }

  async function getAccessToken (connection: Connection): Promise<string> {
    if (connection.state === 'reauth_required') throw new ReauthRequiredError(connection.reauthReason ?? 'reauth_required')
    const tokens = await connections.readTokens(connection.id)
    if (tokens === undefined) throw new ReauthRequiredError('no tokens')
    if (!isExpiring(tokens)) return tokens.accessToken
    if (tokens.refreshToken === undefined) {
      // Public client: no refresh token; the token works until it expires, then the user signs in again.
      if (tokens.expiresAt > Date.now()) return tokens.accessToken
      return await reauth(connection, 'token_expired')
    }
    return await refresh(connection, (t) => isExpiring(t))
  }

  async function refreshAfterUnauthorized (connection: Connection, staleToken: string): Promise<string> {
    const tokens = await connections.readTokens(connection.id)
    if (tokens?.refreshToken === undefined) return await reauth(connection, 'token_rejected')
    return await refresh(connection, (t) => t.accessToken === staleToken)
  }

  return { getAccessToken, refreshAfterUnauthorized }
}
