import type { Connection, ConnectionStore } from '../../core/connections.js'
import { isExpiring } from '../../core/token-manager.js'

/**
 * How long this process serves a connection's metadata and access token
 * from memory. It bounds staleness: a connection removed (DELETE, in any
 * process) or marked reauth_required (the worker's invalid_grant) may still
 * be proxied by this process for at most this long after the change in
 * Redis. The shared budget and the per-user limit are never cached.
 */
export const DEFAULT_CONNECTION_CACHE_TTL_MS = 5_000
/** Connections kept at most; the least recently used one goes first. */
export const DEFAULT_CONNECTION_CACHE_MAX_ENTRIES = 1_000

/** A connection as the proxy uses it. */
export interface CachedConnection {
  connection: Connection
  /** The stored access token while it is well before its refresh point; undefined means "ask the token manager". */
  accessToken: string | undefined
}

export interface ConnectionCache {
  /**
   * The connection when `userId` owns it (checked on every call, cached or
   * not); otherwise undefined, as if it did not exist. Reads Redis at most
   * once per TTL per connection; concurrent misses share one read.
   */
  getOwned (userId: string, id: string): Promise<CachedConnection | undefined>
  /** Forgets a connection, so the next call reads Redis: after its token was refused, or a refresh. */
  drop (id: string): void
  /** How many connections are held (tests). */
  readonly size: number
}

export interface ConnectionCacheOptions {
  connections: Pick<ConnectionStore, 'get' | 'readTokens'>
  ttlMs?: number
  maxEntries?: number
  /** The clock (tests move it). */
  now?: () => number
}

interface Entry {
  loaded: Promise<CachedConnection | undefined>
  /** Epoch ms after which the entry is read again; counted from when its read started. */
  expiresAt: number
}

/**
 * A small in-process LRU in front of the connection store for the proxy's
 * hot path: it saves the HGETALL, the token GET and its AES-GCM decryption
 * on every proxied call. Only active connections are kept (so a reconnect
 * after reauth_required is seen at once), and never for longer than the
 * TTL, nor past the point where the token manager would refresh the token.
 */
export function createConnectionCache (options: ConnectionCacheOptions): ConnectionCache {
  const { connections } = options
  const ttlMs = options.ttlMs ?? DEFAULT_CONNECTION_CACHE_TTL_MS
  const maxEntries = options.maxEntries ?? DEFAULT_CONNECTION_CACHE_MAX_ENTRIES
  const now = options.now ?? Date.now
  const entries = new Map<string, Entry>()

  async function read (id: string, startedAt: number, entry: Entry): Promise<CachedConnection | undefined> {
    // A token that cannot be read is the token manager's to report, on the request that needs it.
    const [connection, tokens] = await Promise.all([connections.get(id), connections.readTokens(id).catch(() => undefined)])
    const usable = tokens !== undefined && !isExpiring(tokens, now())
    // Kept only when the token stays short of its refresh point for the whole TTL.
    const keep = connection?.state === 'active' && usable && !isExpiring(tokens, startedAt + ttlMs)
    if (!keep && entries.get(id) === entry) entries.delete(id)
    if (connection === undefined) return undefined
    return { connection, accessToken: usable ? tokens.accessToken : undefined }
  }

  function load (id: string): Entry {
    const startedAt = now()
    const entry: Entry = { loaded: Promise.resolve(undefined), expiresAt: startedAt + ttlMs }
    entry.loaded = read(id, startedAt, entry)
    entry.loaded.catch(() => { if (entries.get(id) === entry) entries.delete(id) })
    entries.set(id, entry)
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next().value
      if (oldest !== undefined) entries.delete(oldest)
    }
    return entry
  }

  async function getOwned (userId: string, id: string): Promise<CachedConnection | undefined> {
    let entry = entries.get(id)
    if (entry !== undefined && entry.expiresAt <= now()) {
      entries.delete(id)
      entry = undefined
    }
    if (entry === undefined) {
      entry = load(id)
    } else {
      // Most recently used last: eviction takes from the front.
      entries.delete(id)
      entries.set(id, entry)
    }
    const cached = await entry.loaded
    return cached !== undefined && cached.connection.userId === userId ? cached : undefined
  }

  return {
    getOwned,
    drop: (id) => { entries.delete(id) },
    get size () { return entries.size }
  }
}
