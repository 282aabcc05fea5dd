import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { createDirectory } from '../../core/directory.js'
import fastifyHealow from '../../plugin/index.js'
import { TEST_COOKIE_SECRET, TEST_ENCRYPTION_KEY, type TestApp } from '../helpers/build.js'
import { freePort } from '../helpers/redis.js'
import { addConnection, buildProxyHost, proxyGet, rawRequest, USER_HEADER } from './proxy-helpers.js'

function retryAfter (headers: Record<string, string>): number {
  return Number(headers['retry-after'])
}

/** Another host instance on the same Redis and key prefix, as a second machine would be. */
async function startSecondHost (t: Test, ctx: TestApp, proxyRateLimit: number): Promise<string> {
  const app = Fastify()
  const port = await freePort()
  await app.register(fastifyHealow, {
    publicUrl: `http://127.0.0.1:${port}`,
    clientId: ctx.sandbox.clientId,
    clientSecret: ctx.sandbox.clientSecret,
    cookieSecret: TEST_COOKIE_SECRET,
    encryptionKey: TEST_ENCRYPTION_KEY,
    redisUrl: ctx.redis.url,
    keyPrefix: ctx.redis.keyPrefix,
    insecureLoopback: true,
    directory: createDirectory([ctx.tenant]),
    proxyRateLimit,
    getUserId: (request) => request.headers[USER_HEADER] as string | undefined
  })
  await app.listen({ host: '127.0.0.1', port })
  t.teardown(async () => { await app.close() })
  return `http://127.0.0.1:${port}`
}

t.test('the per-user limit: 429 with Retry-After, per user, across host instances', async (t) => {
  const ctx = await buildProxyHost(t, { plugin: { proxyRateLimit: 3 } })
  const alice = await addConnection(ctx, 'alice')
  const bob = await addConnection(ctx, 'bob')
  const path = `Patient/${ctx.sandbox.patientId}`
  const second = await startSecondHost(t, ctx, 3)
  ctx.sandbox.resetCounters()

  t.equal((await proxyGet(ctx, 'alice', alice.id, path)).status, 200)
  t.equal((await proxyGet(ctx, 'alice', alice.id, path)).status, 200)
  const third = await rawRequest(second, `/healow/proxy/${alice.id}/${path}`, { [USER_HEADER]: 'alice' })
  t.equal(third.status, 200, 'the other instance counts on from the same Redis counter')
  t.equal(third.headers['x-ratelimit-remaining'], '0')
  for (const origin of [second, ctx.origin]) {
    const limited = await rawRequest(origin, `/healow/proxy/${alice.id}/${path}`, { [USER_HEADER]: 'alice' })
    t.equal(limited.status, 429)
    t.equal(JSON.parse(limited.body).code, 'HEALOW_ERR_PROXY_RATE_LIMIT')
    t.equal(limited.headers['cache-control'], 'private, no-store')
    t.ok(retryAfter(limited.headers) >= 1 && retryAfter(limited.headers) <= 60, `Retry-After ${limited.headers['retry-after']}`)
  }
  t.equal(ctx.sandbox.counters().requests, 3, 'the limited calls never reached the practice')
  t.equal((await proxyGet(ctx, 'bob', bob.id, path)).status, 200, 'another user has a limit of their own')
  t.equal(ctx.sandbox.counters().requests, 4)
  const keys = await ctx.redis.client.keys(`${ctx.redis.keyPrefix}:proxy-rate:*`)
  t.equal(keys.length, 2, 'one counter per user, under our key prefix')
  t.notOk(keys.some((k) => k.includes('alice') || k.includes('bob')), 'user ids are hashed in key names')
})

t.test('the practice budget: spent, it answers 429 without calling the practice', async (t) => {
  const ctx = await buildProxyHost(t, { plugin: { practiceRateLimit: 3, proxyRateLimit: 100 } })
  const connection = await addConnection(ctx, 'alice')
  const core = ctx.app.healow
  const used = await core.redis.zcard(core.keys.practiceBudget(ctx.tenant.id))
  ctx.sandbox.resetCounters()
  const path = `Patient/${ctx.sandbox.patientId}`
  for (let i = used; i < 3; i++) t.equal((await proxyGet(ctx, 'alice', connection.id, path)).status, 200)
  const res = await proxyGet(ctx, 'alice', connection.id, path)
  t.equal(res.status, 429)
  t.equal(JSON.parse(res.body).code, 'HEALOW_ERR_PRACTICE_BUSY')
  // Until the oldest call leaves the budget's window (a minute and a small transit guard).
  t.ok(retryAfter(res.headers) >= 1 && retryAfter(res.headers) <= 62, `Retry-After ${res.headers['retry-after']}`)
  t.equal(ctx.sandbox.counters().requests, 3 - used, 'no call past the budget')
})

t.test('a paused practice: 429 without calling it', async (t) => {
  const ctx = await buildProxyHost(t)
  const connection = await addConnection(ctx, 'alice')
  await ctx.app.healow.budget.pause(ctx.tenant.id)
  ctx.sandbox.resetCounters()
  const res = await proxyGet(ctx, 'alice', connection.id, `Patient/${ctx.sandbox.patientId}`)
  t.equal(res.status, 429)
  t.equal(JSON.parse(res.body).code, 'HEALOW_ERR_PRACTICE_BUSY')
  t.ok(retryAfter(res.headers) >= 1 && retryAfter(res.headers) <= 61, `Retry-After ${res.headers['retry-after']}`)
  t.equal(ctx.sandbox.counters().requests, 0)
})

t.test('a 429 from the practice pauses it for every process', async (t) => {
  // A fixed clock: the sandbox's calendar minute cannot roll over mid-test.
  const now = Date.now()
  const ctx = await buildProxyHost(t, { sandbox: { rateLimit: 2, now: () => now } })
  const connection = await addConnection(ctx, 'alice')
  ctx.sandbox.resetCounters()
  const path = `Patient/${ctx.sandbox.patientId}`
  t.equal((await proxyGet(ctx, 'alice', connection.id, path)).status, 200)
  t.equal((await proxyGet(ctx, 'alice', connection.id, path)).status, 200)
  const limited = await proxyGet(ctx, 'alice', connection.id, path)
  t.equal(limited.status, 429)
  t.equal(JSON.parse(limited.body).code, 'HEALOW_ERR_PRACTICE_RATE_LIMITED')
  t.ok(retryAfter(limited.headers) >= 1 && retryAfter(limited.headers) <= 61, `Retry-After ${limited.headers['retry-after']}`)
  t.ok(await ctx.app.healow.budget.pausedFor(ctx.tenant.id) > 0, 'the practice is paused in Redis')
  const after = await proxyGet(ctx, 'alice', connection.id, path)
  t.equal(after.status, 429)
  t.equal(JSON.parse(after.body).code, 'HEALOW_ERR_PRACTICE_BUSY')
  t.equal(ctx.sandbox.counters().requests, 3, 'nothing sent while paused')
})
