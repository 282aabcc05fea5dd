import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { DEFAULT_CONNECTION_CACHE_TTL_MS } from '../../plugin/proxy/connection-cache.js'
import { createConnectionStore, type ConnectionStore } from '../../core/connections.js'
import { addConnection, buildProxyHost, proxyGet, rawRequest, startEchoPractice, USER_HEADER } from './proxy-helpers.js'

/** The connection store of another process: same Redis, its own change listeners. */
function otherProcessStore (ctx: Awaited<ReturnType<typeof buildProxyHost>>): ConnectionStore {
  const core = ctx.app.healow
  return createConnectionStore({ redis: core.redis, keys: core.keys, keyring: core.keyring, keyPrefix: core.config.keyPrefix })
}

t.test('a token rotated elsewhere: the cached one is refused once, then the stored one is used without a refresh', async (t) => {
  const ctx = await buildProxyHost(t)
  const echo = await startEchoPractice(t)
  let accepted = 'token-one'
  const respond = echo.respond
  echo.respond = (req, res) => {
    if (req.headers.authorization === `Bearer ${accepted}`) return respond(req, res)
    res.writeHead(401, { 'content-type': 'application/fhir+json' })
    res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: 'expired' }] }))
  }
  const connection = await addConnection(ctx, 'alice', { tenant: echo.tenant, tokens: { accessToken: 'token-one' } })
  t.equal((await proxyGet(ctx, 'alice', connection.id, 'Patient/p1')).status, 200, 'token-one is now in the cache')

  // Another process refreshed (its own store: no event reaches this one): the practice takes only the new token.
  const elsewhere = otherProcessStore(ctx)
  const stored = await elsewhere.readTokens(connection.id)
  if (stored === undefined) throw new Error('no tokens')
  await elsewhere.writeTokens(connection.id, { ...stored, accessToken: 'token-two' })
  accepted = 'token-two'
  const second = await proxyGet(ctx, 'alice', connection.id, 'Patient/p1')
  t.equal(second.status, 200)
  t.equal(JSON.parse(second.body).id, 'p1')
  const third = await proxyGet(ctx, 'alice', connection.id, 'Patient/p1')
  t.equal(third.status, 200)
  t.same(echo.seen.map((s) => s.headers.authorization), ['Bearer token-one', 'Bearer token-one', 'Bearer token-two', 'Bearer token-two'],
    'the cached token, its 401, the stored one; then the stored one straight away')
  t.equal(echo.seen.filter((s) => s.url === '/token').length, 0, 'no refresh: another process had done it')
  t.equal((await ctx.app.healow.connections.readTokens(connection.id))?.refreshToken, stored.refreshToken, 'the refresh token is untouched')
})

t.test('a warm cache still checks who is asking', async (t) => {
  const ctx = await buildProxyHost(t)
  const connection = await addConnection(ctx, 'alice')
  const path = `Patient/${ctx.sandbox.patientId}`
  t.equal((await proxyGet(ctx, 'alice', connection.id, path)).status, 200)
  ctx.sandbox.resetCounters()
  const mallory = await proxyGet(ctx, 'mallory', connection.id, path)
  t.equal(mallory.status, 404)
  t.equal(JSON.parse(mallory.body).code, 'HEALOW_ERR_NOT_FOUND')
  t.equal(ctx.sandbox.counters().requests, 0, 'nothing sent for mallory')
  t.equal((await proxyGet(ctx, 'alice', connection.id, path)).status, 200)
})

t.test('a connection removed here is refused at once; one needing sign-in elsewhere within the cache TTL; a sign-in again is seen at once', async (t) => {
  const ctx = await buildProxyHost(t)
  const removed = await addConnection(ctx, 'alice')
  const lapsed = await addConnection(ctx, 'bob')
  const path = `Patient/${ctx.sandbox.patientId}`
  t.equal((await proxyGet(ctx, 'alice', removed.id, path)).status, 200)
  t.equal((await proxyGet(ctx, 'bob', lapsed.id, path)).status, 200)

  const deleted = await rawRequest(ctx.origin, `/healow/connections/${removed.id}`, { [USER_HEADER]: 'alice', 'content-length': '0' }, 'DELETE')
  t.equal(deleted.status, 204)
  ctx.sandbox.resetCounters()
  const gone = await proxyGet(ctx, 'alice', removed.id, path)
  t.equal(gone.status, 404, 'a disconnect in this process drops the cached entry at once')
  t.equal(JSON.parse(gone.body).code, 'HEALOW_ERR_NOT_FOUND')
  await otherProcessStore(ctx).markReauthRequired(lapsed.id, 'invalid_grant')
  // The bound promised for other processes' changes (served from memory until then, not after).
  await sleep(DEFAULT_CONNECTION_CACHE_TTL_MS + 50)
  const reauth = await proxyGet(ctx, 'bob', lapsed.id, path)
  t.equal(reauth.status, 409)
  t.equal(JSON.parse(reauth.body).code, 'HEALOW_ERR_REAUTH_REQUIRED')
  t.equal(ctx.sandbox.counters().requests, 0, 'nothing sent for either')

  const again = await addConnection(ctx, 'bob')
  t.equal(again.id, lapsed.id)
  t.equal((await proxyGet(ctx, 'bob', lapsed.id, path)).status, 200, 'a refused connection was not held: no wait after signing in again')
})
