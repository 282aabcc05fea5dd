import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { FhirClient, FhirRequestContext } from '../../core/fhir-client.js'
import type { PracticeBudget } from '../../core/practice-budget.js'
import type { Sandbox } from '../../sandbox/index.js'
import { useFhirClient, useSandboxContext } from '../helpers/fhir.js'

interface Setup { sandbox: Sandbox, budget: PracticeBudget, client: FhirClient, ctx: FhirRequestContext, clock: { now: number } }

/**
 * The sandbox allows 5 calls per calendar minute of its own clock (which the
 * test moves); our budget allows 50, so the sandbox is the one that says 429.
 * The real budget pauses until the next real minute; here the pause is cut
 * to `pauseMs` so the test does not wait a minute.
 */
async function setup (t: Test, pauseMs: number, maxAttempts = 5): Promise<Setup> {
  const clock = { now: Date.UTC(2025, 0, 6, 10, 15, 5) }
  const { sandbox, ctx } = await useSandboxContext(t, { rateLimit: 5, now: () => clock.now }, { onUnauthorized: async (token) => token })
  const wrapBudget = (shared: PracticeBudget): PracticeBudget => ({ ...shared, pause: async (practice) => { await shared.pause(practice, Date.now() + pauseMs) } })
  const { budget, client } = await useFhirClient(t, { limitPerMinute: 50, wrapBudget, baseDelayMs: 5, maxAttempts })
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
