import t from 'tap'
import { Redis } from 'ioredis'
import { createTokenManager } from '../../core/token-manager.js'
import { build } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'

t.test('ten processes refreshing one connection at once make one refresh grant', async (t) => {
  const ctx = await build(t)
  const { connectionId } = await connect(ctx)
  const core = ctx.app.healow
  const id = connectionId ?? ''
  const connection = await core.connections.get(id)
  const tokens = await core.connections.readTokens(id)
  if (connection === undefined || tokens === undefined) throw new Error('no connection')
  // Expiring in a second: every caller wants a refresh.
  await core.connections.writeTokens(id, { ...tokens, expiresAt: Date.now() + 1000, obtainedAt: Date.now() - 3_599_000 })

  const clients = Array.from({ length: 10 }, () => new Redis(ctx.redis.url))
  t.teardown(async () => { await Promise.all(clients.map(async (c) => await c.quit())) })
  const managers = clients.map((redis) => createTokenManager({ ...core, redis }))
  const results = await Promise.all(managers.map(async (m) => await m.getAccessToken(connection)))

  const counters = ctx.sandbox.counters()
  t.equal(counters.tokenGrants.refresh_token, 1, 'one refresh grant')
  t.equal(counters.refreshReuse, 0, 'no refresh token reused')
  t.equal(new Set(results).size, 1, 'everyone got the same new token')
  t.not(results[0], tokens.accessToken)
  const stored = await core.connections.readTokens(id)
  t.equal(stored?.accessToken, results[0])
  t.not(stored?.refreshToken, tokens.refreshToken, 'the rotated refresh token is stored')
})

t.test('invalid_grant marks the connection reauth_required and stops its schedule', async (t) => {
  const ctx = await build(t)
  const { connectionId, browser } = await connect(ctx)
  const core = ctx.app.healow
  const id = connectionId ?? ''
  const tokens = await core.connections.readTokens(id)
  if (tokens?.refreshToken === undefined) throw new Error('no refresh token')
  t.equal((await core.syncQueue.getJobSchedulers()).length, 1)
  // Someone else spends the single-use refresh token (as a second device would).
  const spent = await fetch(ctx.sandbox.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${ctx.sandbox.clientId}:${ctx.sandbox.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded'
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken })
  })
  t.equal(spent.status, 200)
  await core.connections.writeTokens(id, { ...tokens, expiresAt: Date.now() - 1000 })
  const connection = await core.connections.get(id)
  if (connection === undefined) throw new Error('no connection')
  await t.rejects(core.tokens.getAccessToken(connection), { code: 'HEALOW_ERR_REAUTH_REQUIRED' })

  const status = JSON.parse((await browser.get(`${ctx.origin}/healow/connections/${id}`)).body)
  t.equal(status.reauth_required, true)
  t.equal(status.reauthReason, 'invalid_grant')
  t.equal(status.nextSyncAt, null)
  t.same(await core.syncQueue.getJobSchedulers(), [], 'the schedule is gone')
  const sync = await browser.send('POST', `${ctx.origin}/healow/connections/${id}/sync`, undefined)
  t.equal(sync.status, 409)
  t.equal(JSON.parse(sync.body).code, 'HEALOW_ERR_REAUTH_REQUIRED')
  t.equal(ctx.sandbox.counters().refreshReuse, 1, 'the practice saw one reuse, and no retry after it')

  // Connecting again clears it.
  await connect(ctx, { browser })
  const again = JSON.parse((await browser.get(`${ctx.origin}/healow/connections/${id}`)).body)
  t.equal(again.reauth_required, false)
  t.equal((await core.syncQueue.getJobSchedulers()).length, 1, 'the schedule is back')
})
