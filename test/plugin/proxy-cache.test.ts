import t from 'tap'
import type { ConnectionStore } from '../../core/connections.js'
import { createConnectionCache, DEFAULT_CONNECTION_CACHE_TTL_MS, type ConnectionCacheOptions } from '../../plugin/proxy/connection-cache.js'
import { addConnection, buildProxyHost } from './proxy-helpers.js'

const TTL = DEFAULT_CONNECTION_CACHE_TTL_MS
const HOUR = 3_600_000

/** The real store, counting its connection reads; and a clock the test moves. */
function createSubject (store: ConnectionStore, options: Partial<ConnectionCacheOptions> = {}): {
  cache: ReturnType<typeof createConnectionCache>
  reads: () => number
  clock: { now: number }
} {
  let reads = 0
  const clock = { now: Date.now() }
  const connections = {
    get: async (id: string) => { reads++; return await store.get(id) },
    readTokens: async (id: string) => await store.readTokens(id)
  }
  const cache = createConnectionCache({ connections, now: () => clock.now, ...options })
  return { cache, reads: () => reads, clock }
}

t.test('served from memory within the TTL; a removed connection is refused once it has passed', async (t) => {
  const ctx = await buildProxyHost(t)
  const store = ctx.app.healow.connections
  const connection = await addConnection(ctx, 'alice', { tokens: { accessToken: 'token-one' } })
  const { cache, reads, clock } = createSubject(store)

  const first = await cache.getOwned('alice', connection.id)
  t.equal(first?.connection.id, connection.id)
  t.equal(first?.accessToken, 'token-one')
  await store.remove(connection.id)
  clock.now += TTL - 1
  t.equal((await cache.getOwned('alice', connection.id))?.accessToken, 'token-one', 'still held just inside the TTL')
  t.equal(reads(), 1, 'one read')
  clock.now += 1
  t.equal(await cache.getOwned('alice', connection.id), undefined, 'refused once the TTL is reached')
  t.equal(reads(), 2)
  t.equal(cache.size, 0, 'a missing connection is not held')
})

t.test('ownership is checked on every call, from memory too', async (t) => {
  const ctx = await buildProxyHost(t)
  const connection = await addConnection(ctx, 'alice')
  const { cache, reads } = createSubject(ctx.app.healow.connections)
  t.equal((await cache.getOwned('alice', connection.id))?.connection.userId, 'alice')
  t.equal(await cache.getOwned('mallory', connection.id), undefined, 'another user: as if it did not exist')
  t.equal(await cache.getOwned('mallory', connection.id), undefined)
  t.equal((await cache.getOwned('alice', connection.id))?.connection.id, connection.id)
  t.equal(reads(), 1, 'all four from one read')
})

t.test('only an active connection is held: a reconnect after reauth_required is seen at once', async (t) => {
  const ctx = await buildProxyHost(t)
  const store = ctx.app.healow.connections
  const connection = await addConnection(ctx, 'alice')
  await store.markReauthRequired(connection.id, 'invalid_grant')
  const { cache, reads } = createSubject(store)
  t.equal((await cache.getOwned('alice', connection.id))?.connection.state, 'reauth_required')
  t.equal(cache.size, 0)
  const again = await addConnection(ctx, 'alice', { tokens: { accessToken: 'after-reconnect' } })
  t.equal(again.id, connection.id, 'the same connection, signed in again')
  const seen = await cache.getOwned('alice', connection.id)
  t.equal(seen?.connection.state, 'active')
  t.equal(seen?.accessToken, 'after-reconnect')
  t.equal(reads(), 2)
})

t.test('a token is never held past its refresh point', async (t) => {
  const ctx = await buildProxyHost(t)
  const store = ctx.app.healow.connections
  const { cache, reads, clock } = createSubject(store)
  const now = clock.now
  // An hour-long token refreshes 5 minutes ahead: this one reaches that point 3 s from now, inside the TTL.
  const near = await addConnection(ctx, 'alice', { tokens: { accessToken: 'near', obtainedAt: now - HOUR + 5 * 60_000 + 3_000, expiresAt: now + 5 * 60_000 + 3_000 } })
  t.equal((await cache.getOwned('alice', near.id))?.accessToken, 'near', 'still usable for this call')
  t.equal(cache.size, 0, 'but not kept')
  await store.writeTokens(near.id, { accessToken: 'refreshed', refreshToken: 'r2', scope: 'patient/*.read', obtainedAt: now, expiresAt: now + HOUR, patientId: undefined })
  t.equal((await cache.getOwned('alice', near.id))?.accessToken, 'refreshed', 'the next call reads the refreshed token')
  t.equal(reads(), 2)

  const expiring = await addConnection(ctx, 'bob', { tokens: { accessToken: 'expiring', obtainedAt: now - HOUR + 60_000, expiresAt: now + 60_000 } })
  const cached = await cache.getOwned('bob', expiring.id)
  t.equal(cached?.connection.id, expiring.id)
  t.equal(cached?.accessToken, undefined, 'past the refresh point: left to the token manager')
  t.equal(cache.size, 1, 'only the refreshed connection is held')
})

t.test('drop forgets; concurrent misses share one read; a failed read is not held', async (t) => {
  const ctx = await buildProxyHost(t)
  const store = ctx.app.healow.connections
  const connection = await addConnection(ctx, 'alice')
  const { cache, reads } = createSubject(store)
  const all = await Promise.all([1, 2, 3, 4].map(async () => await cache.getOwned('alice', connection.id)))
  t.same(all.map((c) => c?.connection.id), [connection.id, connection.id, connection.id, connection.id])
  t.equal(reads(), 1, 'four concurrent calls, one read')
  cache.drop(connection.id)
  await cache.getOwned('alice', connection.id)
  t.equal(reads(), 2, 'read again after drop')

  let fail = true
  const flaky = createConnectionCache({
    connections: {
      get: async (id) => { if (fail) throw new Error('redis went away'); return await store.get(id) },
      readTokens: async (id) => await store.readTokens(id)
    }
  })
  await t.rejects(flaky.getOwned('alice', connection.id), { message: 'redis went away' })
  t.equal(flaky.size, 0)
  fail = false
  t.equal((await flaky.getOwned('alice', connection.id))?.connection.id, connection.id, 'the next call reads again')
})

t.test('bounded: the least recently used connection goes first', async (t) => {
  const ctx = await buildProxyHost(t)
  const store = ctx.app.healow.connections
  const ids = []
  for (const user of ['u1', 'u2', 'u3']) ids.push({ user, id: (await addConnection(ctx, user)).id })
  const [a, b, c] = ids as [typeof ids[0], typeof ids[0], typeof ids[0]]
  const { cache, reads } = createSubject(store, { maxEntries: 2 })
  await cache.getOwned(a.user, a.id)
  await cache.getOwned(b.user, b.id)
  await cache.getOwned(a.user, a.id)
  t.equal(reads(), 2)
  await cache.getOwned(c.user, c.id)
  t.equal(cache.size, 2)
  await cache.getOwned(a.user, a.id)
  t.equal(reads(), 3, 'a was used last before c came: still held')
  await cache.getOwned(b.user, b.id)
  t.equal(reads(), 4, 'b was evicted')
})
