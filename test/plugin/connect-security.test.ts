import t, { type Test } from 'tap'
import { build, type TestApp } from '../helpers/build.js'
import { Browser } from '../helpers/browser.js'
import { connect } from '../helpers/connect.js'
import { keysByPrefix } from '../helpers/redis.js'

/** Starts a dance and stops at the callback URL the practice hands back. */
async function startDance (ctx: TestApp, browser = new Browser(), returnTo = '/done'): Promise<{ browser: Browser, callbackUrl: string }> {
  const start = await browser.get(`${ctx.origin}/healow/authorize?tenant=${ctx.tenant.id}&returnTo=${encodeURIComponent(returnTo)}`)
  if (start.location === undefined) throw new Error(`authorize answered ${start.status}`)
  const atPractice = await browser.get(start.location)
  if (atPractice.location === undefined) throw new Error(`practice answered ${atPractice.status}`)
  return { browser, callbackUrl: atPractice.location }
}

async function storedNothing (t: Test, ctx: TestApp): Promise<void> {
  t.same(await ctx.app.healow.connections.listIds(), [], 'no connection stored')
  t.equal(await ctx.app.healow.syncQueue.count(), 0, 'no sync queued')
}

t.test('a replayed callback is refused and changes nothing', async (t) => {
  const ctx = await build(t)
  const { browser, callbackUrl } = await startDance(ctx)
  const authCookie = browser.cookies.get(ctx.origin)?.get('healow_auth')
  const first = await browser.get(callbackUrl)
  t.equal(first.status, 302)
  browser.cookies.get(ctx.origin)?.set('healow_auth', authCookie ?? '')
  const replay = await browser.get(callbackUrl)
  t.equal(replay.status, 400)
  t.equal(JSON.parse(replay.body).code, 'HEALOW_ERR_STATE_EXPIRED')
  t.equal(ctx.sandbox.counters().tokenGrants.authorization_code, 1, 'the code was exchanged once')
  t.equal((await ctx.app.healow.connections.listIds()).length, 1)
})

t.test('a forged state is refused', async (t) => {
  const ctx = await build(t)
  const browser = new Browser()
  const res = await browser.get(`${ctx.origin}/healow/callback?state=forged-state-value&code=abc`)
  t.equal(res.status, 400)
  t.equal(JSON.parse(res.body).code, 'HEALOW_ERR_STATE_FOREIGN')
  const missing = await browser.get(`${ctx.origin}/healow/callback?code=abc`)
  t.equal(JSON.parse(missing.body).code, 'HEALOW_ERR_STATE_MISSING')
  await storedNothing(t, ctx)
})

t.test('a callback started in another browser is refused (login CSRF)', async (t) => {
  const ctx = await build(t)
  const { callbackUrl } = await startDance(ctx)
  const victim = new Browser()
  const res = await victim.get(callbackUrl)
  t.equal(res.status, 400)
  t.equal(JSON.parse(res.body).code, 'HEALOW_ERR_STATE_FOREIGN')
  await storedNothing(t, ctx)
})

t.test('a tampered state cookie is refused', async (t) => {
  const ctx = await build(t)
  const { browser, callbackUrl } = await startDance(ctx)
  const jar = browser.cookies.get(ctx.origin)
  jar?.set('healow_auth', (jar.get('healow_auth') ?? '').replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))
  const res = await browser.get(callbackUrl)
  t.equal(res.status, 400)
  await storedNothing(t, ctx)
})

const ID_TOKEN_FAULTS = ['wrong-nonce', 'foreign-key', 'expired', 'wrong-aud', 'wrong-iss'] as const
for (const fault of ID_TOKEN_FAULTS) {
  t.test(`an id_token with ${fault} is refused`, async (t) => {
    const ctx = await build(t)
    ctx.sandbox.setFaults({ idToken: fault })
    const { final } = await connect(ctx)
    t.equal(final.status, 302)
    t.equal(final.location, `${ctx.origin}/done?healow_error=HEALOW_ERR_ID_TOKEN`)
    await storedNothing(t, ctx)
  })
}

t.test('a 500 from the token endpoint stores nothing and says so', async (t) => {
  const ctx = await build(t)
  ctx.sandbox.setFaults({ tokenEndpoint: 'error' })
  const { final } = await connect(ctx)
  t.equal(final.location, `${ctx.origin}/done?healow_error=HEALOW_ERR_UPSTREAM`)
  await storedNothing(t, ctx)
})

t.test('a token endpoint that hangs times out', async (t) => {
  const ctx = await build(t, { plugin: { upstreamTimeout: '500ms' } })
  ctx.sandbox.setFaults({ tokenEndpoint: 'hang' })
  const { final } = await connect(ctx)
  t.equal(final.location, `${ctx.origin}/done?healow_error=HEALOW_ERR_UPSTREAM_TIMEOUT`)
  await storedNothing(t, ctx)
})

t.test("the practice's error comes back to returnTo as a short code", async (t) => {
  const ctx = await build(t, { sandbox: { autoApprove: false } })
  const browser = new Browser()
  const start = await browser.get(`${ctx.origin}/healow/authorize?tenant=${ctx.tenant.id}&returnTo=/back`)
  const state = new URL(start.location ?? '').searchParams.get('state') ?? ''
  const res = await browser.get(`${ctx.origin}/healow/callback?state=${state}&error=${encodeURIComponent('access_denied<script>alert(1)</script>')}&error_description=${encodeURIComponent('<b>no</b>')}`)
  t.equal(res.status, 302)
  t.equal(res.location, `${ctx.origin}/back?healow_error=access_deniedscriptalert1script`)
  t.notMatch(res.body, '<script>')
  await storedNothing(t, ctx)
})

const HOSTILE_RETURN_TO = [
  'https://evil.example/x', '//evil.example', '///evil.example', '/\\evil.example', '\\\\evil.example', '/%2F%2Fevil.example',
  '/%5Cevil.example', '/%2e%2e/%2e%2e/', 'javascript:alert(1)', 'http:/evil.example', 'evil.example', '/x\r\nSet-Cookie:a=b',
  '/\t/evil.example', ' /ok', '/%252F%252Fevil.example', '/%0d%0aLocation:x', `/${'a'.repeat(3000)}`
]
t.test('open-redirect attempts in returnTo get a 400 and change nothing', async (t) => {
  const ctx = await build(t)
  const browser = new Browser()
  for (const returnTo of HOSTILE_RETURN_TO) {
    const res = await browser.get(`${ctx.origin}/healow/authorize?tenant=${ctx.tenant.id}&returnTo=${encodeURIComponent(returnTo)}`)
    t.equal(res.status, 400, JSON.stringify(returnTo))
    t.equal(res.location, undefined)
  }
  const authKeys = (await keysByPrefix(ctx.redis.client, ctx.redis.keyPrefix)).filter((k) => k.includes('{s:'))
  t.same(authKeys, [], 'no pending authorization stored')
  t.equal(ctx.sandbox.counters().requests, 0, 'the practice was not called')
  const ok = await browser.get(`${ctx.origin}/healow/authorize?tenant=${ctx.tenant.id}&returnTo=${encodeURIComponent('/records?tab=2#top')}`)
  t.equal(ok.status, 302, 'a same-origin path is fine')
})

t.test('an unknown practice is a 404 that says what to do', async (t) => {
  const ctx = await build(t)
  const res = await new Browser().get(`${ctx.origin}/healow/authorize?tenant=NOPE99`)
  t.equal(res.status, 404)
  const body = JSON.parse(res.body)
  t.equal(body.code, 'HEALOW_ERR_UNKNOWN_PRACTICE')
  t.match(body.message, /GET \/healow\/tenants/)
  const bad = await new Browser().get(`${ctx.origin}/healow/authorize?tenant=${encodeURIComponent('../x')}`)
  t.equal(bad.status, 400)
  t.equal(JSON.parse(bad.body).code, 'HEALOW_ERR_BAD_REQUEST')
})

t.test("another user's connection is a 404, never a 403", async (t) => {
  const ctx = await build(t)
  const { connectionId, browser } = await connect(ctx)
  const other = new Browser()
  for (const res of [
    await other.get(`${ctx.origin}/healow/connections/${connectionId}`),
    await other.send('DELETE', `${ctx.origin}/healow/connections/${connectionId}`, undefined)
  ]) {
    t.equal(res.status, 404)
    t.equal(JSON.parse(res.body).code, 'HEALOW_ERR_NOT_FOUND')
  }
  t.same(JSON.parse((await other.get(`${ctx.origin}/healow/connections`)).body).connections, [])
  t.equal((await browser.get(`${ctx.origin}/healow/connections/${connectionId}`)).status, 200, 'the owner still sees it')
})

t.test('getUserId from the host decides who owns what', async (t) => {
  const ctx = await build(t, { plugin: { getUserId: (req) => req.headers['x-user'] as string | undefined } })
  const alice = new Browser()
  const start = await alice.get(`${ctx.origin}/healow/authorize?tenant=${ctx.tenant.id}`, { 'x-user': 'alice' })
  t.equal(start.status, 302)
  t.notOk(alice.cookies.get(ctx.origin)?.has('healow_device'), 'no device cookie when the host names the user')
  const atPractice = await alice.get(start.location ?? '')
  const done = await alice.get(atPractice.location ?? '', { 'x-user': 'alice' })
  const id = new URL(done.location ?? '').searchParams.get('connection')
  t.ok(id)
  t.equal((await alice.get(`${ctx.origin}/healow/connections/${id}`, { 'x-user': 'alice' })).status, 200)
  t.equal((await alice.get(`${ctx.origin}/healow/connections/${id}`, { 'x-user': 'bob' })).status, 404)
  t.equal((await alice.get(`${ctx.origin}/healow/connections/${id}`)).status, 401, 'nobody signed in')
})

t.test('disconnect removes tokens, schedule and records', async (t) => {
  const ctx = await build(t)
  const { connectionId, browser } = await connect(ctx)
  const id = connectionId ?? ''
  await ctx.redis.client.hset(ctx.app.healow.keys.records(id), 'Condition/1', 'sealed')
  const res = await browser.send('DELETE', `${ctx.origin}/healow/connections/${id}`, undefined)
  t.equal(res.status, 204)
  t.equal(await ctx.app.healow.connections.get(id), undefined)
  t.equal(await ctx.app.healow.connections.readTokens(id), undefined)
  t.equal(await ctx.redis.client.exists(ctx.app.healow.keys.records(id)), 0)
  t.same(await ctx.app.healow.syncQueue.getJobSchedulers(), [])
  const leftovers = (await keysByPrefix(ctx.redis.client, `{c:${id}}`))
  t.same(leftovers, [], 'no key of the connection is left')
  t.equal((await browser.get(`${ctx.origin}/healow/connections/${id}`)).status, 404)
})

t.test('public mode: after the access token expires the status asks to reconnect', async (t) => {
  const ctx = await build(t, { mode: 'public', sandbox: { tokenTtlSeconds: 1 } })
  const { connectionId, browser } = await connect(ctx)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const body = JSON.parse((await browser.get(`${ctx.origin}/healow/connections/${connectionId}`)).body)
  t.equal(body.reauth_required, true)
  t.equal(body.reauthReason, 'token_expired')
  t.equal(body.canRefresh, false)
})

t.test('without a smart-configuration the directory entry is used, and the id_token is still checked', async (t) => {
  const ctx = await build(t, { sandbox: { faults: { discoveryMissing: true } } })
  const { final, connectionId, authorizeUrl } = await connect(ctx)
  t.equal(authorizeUrl.origin + authorizeUrl.pathname, ctx.tenant.authorize, 'the directory authorize URL')
  t.ok(connectionId, 'connected')
  t.equal(final.status, 302)
  // The refresh works the same way.
  const core = ctx.app.healow
  const id = connectionId ?? ''
  const tokens = await core.connections.readTokens(id)
  if (tokens === undefined) throw new Error('no tokens')
  await core.connections.writeTokens(id, { ...tokens, expiresAt: Date.now() - 1 })
  const connection = await core.connections.get(id)
  if (connection === undefined) throw new Error('no connection')
  const fresh = await core.tokens.getAccessToken(connection)
  t.not(fresh, tokens.accessToken)
  t.equal(ctx.sandbox.counters().tokenGrants.refresh_token, 1)

  ctx.sandbox.setFaults({ discoveryMissing: true, idToken: 'foreign-key' })
  const forged = await connect(ctx)
  t.equal(forged.final.location, `${ctx.origin}/done?healow_error=HEALOW_ERR_ID_TOKEN`, 'a foreign key still fails')
  ctx.sandbox.setFaults({ discoveryMissing: true, idToken: 'wrong-iss' })
  const wrongIss = await connect(ctx)
  t.equal(wrongIss.final.location, `${ctx.origin}/done?healow_error=HEALOW_ERR_ID_TOKEN`, 'an issuer on another origin fails')
})
