import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { createFhirClient, type FhirClient, type FhirRequestContext } from '../../core/fhir-client.js'
import { createHttpAgent, createPracticeFetch } from '../../core/http.js'
import { createKeys } from '../../core/keys.js'
import { createPracticeBudget, type PracticeBudget } from '../../core/practice-budget.js'
import { startSandbox, type Sandbox } from '../../sandbox/index.js'
import { useRedis } from '../helpers/redis.js'

interface Setup { sandbox: Sandbox, budget: PracticeBudget, client: FhirClient, ctx: FhirRequestContext, clock: { now: number } }

/**
 * The sandbox allows 5 calls per calendar minute of its own clock (which the
 * test moves); our budget allows 50, so the sandbox is the one that says 429.
 * The real budget pauses until the next real minute; here the pause is cut
 * to `pauseMs` so the test does not wait a minute.
 */
async function setup (t: Test, pauseMs: number, maxAttempts = 5): Promise<Setup> {
  const clock = { now: Date.UTC(2025, 0, 6, 10, 15, 5) }
  const sandbox = await startSandbox({ rateLimit: 5, now: () => clock.now })
  t.teardown(async () => { await sandbox.close() })
  const { client: redis, keyPrefix } = await useRedis(t)
  const shared = createPracticeBudget({ redis, keys: createKeys(keyPrefix), limitPerMinute: 50 })
  const budget: PracticeBudget = { ...shared, pause: async (practice) => { await shared.pause(practice, Date.now() + pauseMs) } }
  const agent = createHttpAgent()
  t.teardown(async () => { await agent.close() })
  const client = createFhirClient({ fetch: createPracticeFetch({ budget, agent }), budget, allowLoopbackHttp: true, baseDelayMs: 5, maxAttempts })
  const { access_token: token } = await sandbox.issueTokens()
  const ctx = { practiceId: sandbox.practiceCode, baseUrl: sandbox.fhirBaseUrl, getAccessToken: async () => token, onUnauthorized: async () => token }
  return { sandbox, budget, client, ctx, clock }
}

t.test('429 pauses the practice for everyone; the request succeeds once the minute has turned', async (t) => {
  const { sandbox, budget, client, ctx, clock } = await setup(t, 1_000)
  const url = `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`
  for (let i = 0; i < 5; i++) t.equal((await client.getJson(ctx, url)).status, 200, `call ${i + 1} of the minute`)
  t.equal(await budget.pausedFor(sandbox.practiceCode), 0, 'not paused yet')

  const pending = client.getJson(ctx, url)
  let paused = 0
  while (paused === 0) {
    paused = await budget.pausedFor(sandbox.practiceCode)
    if (paused === 0) await sleep(5)
  }
  t.ok(paused > 0 && paused <= 1_000, `the practice is paused (${paused} ms left)`)
  clock.now += 60_000 // the sandbox's next calendar minute
  const { status, body } = await pending
  t.equal(status, 200)
  t.equal((body as { id: string }).id, sandbox.patientId)
  const counters = sandbox.counters()
  t.equal(counters.rateLimited, 1, 'one 429, then the retry waited for the pause')
  t.same(counters.byStatus, { 200: 6, 429: 1 })
  t.equal(await budget.pausedFor(sandbox.practiceCode), 0, 'the pause is over')
})

t.test('a practice that keeps answering 429 ends in HEALOW_ERR_UPSTREAM after maxAttempts', async (t) => {
  const { sandbox, client, ctx } = await setup(t, 50, 3)
  const url = `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`
  for (let i = 0; i < 5; i++) await client.getJson(ctx, url)
  await t.rejects(client.getJson(ctx, url), { code: 'HEALOW_ERR_UPSTREAM', message: /rate limited \(429\) after 3 attempts/ })
  t.equal(sandbox.counters().rateLimited, 3)
})
