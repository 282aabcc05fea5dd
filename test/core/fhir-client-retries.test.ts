import { createServer } from 'node:http'
import t, { type Test } from 'tap'
import type { Logger } from '../../core/context.js'
import { parseRetryAfter, type FhirClient, type FhirClientOptions, type FhirRequestContext } from '../../core/fhir-client.js'
import { pageSearch } from '../../core/fhir-paging.js'
import { buildSearchPlan } from '../../core/search-plan.js'
import type { Sandbox, SandboxFaults } from '../../sandbox/index.js'
import { useFhirClient, useSandboxContext } from '../helpers/fhir.js'

interface Setup { sandbox: Sandbox, client: FhirClient, ctx: FhirRequestContext, token: string, logs: unknown[] }

async function setup (t: Test, faults: SandboxFaults, clientOptions: Partial<FhirClientOptions> = {}, timeoutMs = 5_000): Promise<Setup> {
  const { sandbox, ctx, token } = await useSandboxContext(t, { faults })
  const logs: unknown[] = []
  const record = (level: string) => (obj: object, msg?: string) => { logs.push({ level, obj, msg }) }
  const log: Logger = { info: record('info'), warn: record('warn'), error: record('error'), debug: record('debug') }
  const { client } = await useFhirClient(t, { timeoutMs, log, baseDelayMs: 2, maxDelayMs: 20, ...clientOptions })
  return { sandbox, client, ctx, token, logs }
}

async function countPlan (s: Setup): Promise<Record<string, number>> {
  const byType: Record<string, number> = {}
  for (const search of buildSearchPlan(s.sandbox.patientId, { count: 10 })) {
    for await (const page of pageSearch(s.client, s.ctx, search)) {
      for (const r of page.resources) byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1
    }
  }
  return byType
}

const FAULTS: Array<[string, SandboxFaults, 'unavailable' | 'reset' | 'malformed']> = [
  ['503s', { failRate: 0.3 }, 'unavailable'],
  ['connection resets', { resetRate: 0.3 }, 'reset'],
  ['truncated JSON on a 200', { malformedRate: 0.3 }, 'malformed'],
  ['all three', { failRate: 0.2, resetRate: 0.1, malformedRate: 0.1 }, 'unavailable']
]

for (const [name, faults, kind] of FAULTS) {
  t.test(`${name}: the full counts still arrive`, async (t) => {
    const s = await setup(t, faults)
    const byType = await countPlan(s)
    const expected = s.sandbox.expectedCounts()
    t.same(byType, { ...expected.byType, Patient: 1 })
    const counters = s.sandbox.counters()
    t.ok(counters.faults[kind] > 2, `${counters.faults[kind]} ${kind} faults were met`)
    const warnings = s.logs.filter((l) => (l as { level: string }).level === 'warn')
    t.ok(warnings.length >= counters.faults[kind], 'each retry is logged')
    t.notOk(JSON.stringify(s.logs).includes(s.token), 'no token in the logs')
  })
}

t.test('failRate 1: HEALOW_ERR_UPSTREAM after maxAttempts', async (t) => {
  const s = await setup(t, { failRate: 1 }, { maxAttempts: 4 })
  const err = await s.client.getJson(s.ctx, `${s.sandbox.fhirBaseUrl}/Patient/${s.sandbox.patientId}`).catch((e: unknown) => e)
  t.match(err, { code: 'HEALOW_ERR_UPSTREAM', attempts: 4, message: 'The practice could not be reached or answered with an error: status 503 after 4 attempts' })
  t.equal(s.sandbox.counters().byStatus['503'], 4)
  t.equal(s.sandbox.counters().requests, 4)
  t.notOk(JSON.stringify({ err, message: (err as Error).message, logs: s.logs }).includes(s.token), 'no token in the error or logs')
})

t.test('resets and malformed bodies every time: coded errors after maxAttempts', async (t) => {
  const resets = await setup(t, { resetRate: 1 }, { maxAttempts: 3 })
  await t.rejects(resets.client.getJson(resets.ctx, `${resets.sandbox.fhirBaseUrl}/Goal?patient=${resets.sandbox.patientId}`),
    { code: 'HEALOW_ERR_UPSTREAM', message: /connection failed after 3 attempts/ })
  t.equal(resets.sandbox.counters().faults.reset, 3)
  const malformed = await setup(t, { malformedRate: 1 }, { maxAttempts: 2 })
  await t.rejects(malformed.client.getJson(malformed.ctx, `${malformed.sandbox.fhirBaseUrl}/Goal?patient=${malformed.sandbox.patientId}`),
    { code: 'HEALOW_ERR_UPSTREAM', message: /malformed JSON after 2 attempts/ })
  t.equal(malformed.sandbox.counters().faults.malformed, 2)
})

t.test('a stalled body times out and is retried, then HEALOW_ERR_UPSTREAM_TIMEOUT', async (t) => {
  const s = await setup(t, { stallRate: 1 }, { maxAttempts: 2 }, 300)
  await t.rejects(s.client.getJson(s.ctx, `${s.sandbox.fhirBaseUrl}/Condition?patient=${s.sandbox.patientId}`),
    { code: 'HEALOW_ERR_UPSTREAM_TIMEOUT', message: /no complete answer after 2 attempts/ })
  t.equal(s.sandbox.counters().faults.stall, 2)
  s.sandbox.setFaults({ stallRate: 0.5 })
  const { body } = await s.client.getJson(s.ctx, `${s.sandbox.fhirBaseUrl}/Condition?patient=${s.sandbox.patientId}`)
  t.equal((body as { total: number }).total, 27, 'one stall, then the answer')
})

t.test('a body over maxResponseBytes is an error, not retried', async (t) => {
  const s = await setup(t, {}, { maxResponseBytes: 1000 })
  await t.rejects(s.client.getJson(s.ctx, `${s.sandbox.fhirBaseUrl}/Condition?patient=${s.sandbox.patientId}`),
    { code: 'HEALOW_ERR_UPSTREAM', message: /response larger than 1000 bytes/ })
  t.equal(s.sandbox.counters().requests, 1)
})

t.test('Retry-After is honoured (seconds and HTTP date) and capped by maxDelayMs', async (t) => {
  const answers = ['0', new Date(Date.now() - 5_000).toUTCString(), '3600']
  let calls = 0
  const server = createServer((req, res) => {
    const n = calls++
    if (n % 2 === 0) {
      res.writeHead(503, { 'retry-after': answers[n / 2] ?? '0', 'content-type': 'application/json+fhir' })
      res.end('{"resourceType":"OperationOutcome","issue":[]}')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json+fhir' })
    res.end('{"resourceType":"Bundle","total":0}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/fhir/r4/LOCAL1`
  // Backoff alone would wait up to 10 minutes here: only the header (or the cap) keeps the test short.
  const s = await setup(t, {}, { baseDelayMs: 600_000, maxDelayMs: 600_000 })
  const ctx = { ...s.ctx, practiceId: 'LOCAL1', baseUrl: base }
  t.same(await s.client.getJson(ctx, `${base}/Goal`), { status: 200, body: { resourceType: 'Bundle', total: 0 } }, 'Retry-After: 0')
  t.same((await s.client.getJson(ctx, `${base}/Goal`)).status, 200, 'Retry-After: a past date')
  const capped = await setup(t, {}, { baseDelayMs: 600_000, maxDelayMs: 10 })
  t.same((await capped.client.getJson(ctx, `${base}/Goal`)).status, 200, 'Retry-After: 3600 capped at maxDelayMs')
  t.equal(calls, 6)
})

t.test('parseRetryAfter', async (t) => {
  const now = Date.UTC(2025, 0, 6, 10, 0, 0)
  t.equal(parseRetryAfter('120', now), 120_000)
  t.equal(parseRetryAfter(' 0 ', now), 0)
  t.equal(parseRetryAfter('Mon, 06 Jan 2025 10:00:30 GMT', now), 30_000)
  t.equal(parseRetryAfter('Mon, 06 Jan 2025 09:59:00 GMT', now), 0)
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter('-5', now), undefined)
  t.equal(parseRetryAfter(null, now), undefined)
  t.equal(parseRetryAfter(undefined, now), undefined)
})
