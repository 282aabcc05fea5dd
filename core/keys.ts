import createError from '@fastify/error'

/**
 * Redis key layout. Every key of one connection carries the same hash tag
 * `{c:<id>}`, so multi-key Lua on a connection stays in one Redis Cluster
 * slot (Redis Cluster spec, "hash tags": only the text between the first `{`
 * and the next `}` is hashed). Ids that end up inside a tag must not contain
 * `{`, `}` or `:`: ids we mint (connections, OAuth state) and practice codes
 * are checked against {@link SAFE_ID_RE}; user ids come from the host and can
 * hold anything, so they are base64url-encoded instead of checked.
 */

/** Ids that may sit inside a hash tag as they are. */
export const SAFE_ID_RE = /^[A-Za-z0-9_-]{1,128}$/
const PREFIX_RE = /^[A-Za-z0-9_.:-]{1,64}$/
const MAX_USER_ID_LENGTH = 1024

export const InvalidKeyIdError = createError<'HEALOW_ERR_INVALID_ID', 400, [string]>(
  'HEALOW_ERR_INVALID_ID', 'Invalid %s: use 1 to 128 letters, digits, _ or -', 400)

/** Whether an id may be used in a key (connection ids, OAuth state, practice codes). */
export function isSafeId (value: unknown): value is string {
  return typeof value === 'string' && SAFE_ID_RE.test(value)
}

function checkId (value: string, what: string): string {
  if (!isSafeId(value)) throw new InvalidKeyIdError(what)
  return value
}

/** Host user ids are free text: encoding keeps `}` and `:` out of the tag and never collides. */
function encodeUserId (userId: string): string {
  if (typeof userId !== 'string' || userId === '' || userId.length > MAX_USER_ID_LENGTH) {
    throw new InvalidKeyIdError('user id')
  }
  return Buffer.from(userId, 'utf8').toString('base64url')
}

export interface Keys {
  /** Hash: the connection's metadata. */
  connection (id: string): string
  /** The connection's encrypted token set. */
  tokens (id: string): string
  /** Single-flight refresh lock (one refresh per connection across every process). */
  refreshLock (id: string): string
  /** Hash: `type/id` to the encrypted record. */
  records (id: string): string
  /** Sorted set: `type/id` scored by change sequence, for `since` cursors. */
  recordChanges (id: string): string
  /** The last and current sync's status. */
  syncStatus (id: string): string
  /** The manual-sync floor: the last manual job id, expiring when another may start. */
  manualSync (id: string): string
  /** A user's connections (an index kept by the connection store). */
  userConnections (userId: string): string
  /** Set: every connection id (one key, not per connection). */
  connectionIndex (): string
  /** Pending authorization request for one OAuth `state`. */
  authState (state: string): string
  /** Sorted set: the practice's sliding-window call log. */
  practiceBudget (practice: string): string
  /** The time the practice is paused until after a 429. */
  practicePause (practice: string): string
  /** A user's proxy rate-limit counter. */
  proxyLimit (userId: string): string
}

/**
 * Builds the key names under `prefix` (the `keyPrefix` setting). Throws
 * `HEALOW_ERR_INVALID_ID` for an id that could break a hash tag.
 */
export function createKeys (prefix: string): Keys {
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new InvalidKeyIdError('key prefix')
  }
  const conn = (id: string, suffix: string): string => `${prefix}:{c:${checkId(id, 'connection id')}}:${suffix}`
  // Practice codes are matched case-insensitively (the directory stores them
  // upper-case); one practice must have one budget whatever the spelling.
  const practice = (code: string, suffix: string): string =>
    `${prefix}:{p:${checkId(code, 'practice code').toUpperCase()}}:${suffix}`
  return {
    connection: (id) => conn(id, 'conn'),
    tokens: (id) => conn(id, 'tokens'),
    refreshLock: (id) => conn(id, 'lock:refresh'),
    records: (id) => conn(id, 'records'),
    recordChanges: (id) => conn(id, 'changes'),
    syncStatus: (id) => conn(id, 'sync'),
    manualSync: (id) => conn(id, 'manual'),
    userConnections: (userId) => `${prefix}:{u:${encodeUserId(userId)}}:conns`,
    connectionIndex: () => `${prefix}:connections`,
    authState: (state) => `${prefix}:{s:${checkId(state, 'state')}}:auth`,
    practiceBudget: (code) => practice(code, 'budget'),
    practicePause: (code) => practice(code, 'pause'),
    proxyLimit: (userId) => `${prefix}:{u:${encodeUserId(userId)}}:proxy`
  }
}
