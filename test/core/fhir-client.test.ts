import { createServer, type IncomingHttpHeaders } from 'node:http'
import t, { type Test } from 'tap'
import { ReauthRequiredError } from '../../core/errors.js'
import { FhirSearchError, createFhirClient, resolveFhirUrl, type FhirClient, type FhirRequestContext } from '../../core/fhir-client.js'
import type { Sandbox, SandboxOptions } from '../../sandbox/index.js'
import { useFhirClient, usePracticeFetch, useSandboxContext } from '../helpers/fhir.js'

async function setup (t: Test, options: SandboxOptions = {}): Promise<{ sandbox: Sandbox, client: FhirClient, ctx: FhirRequestContext, token: string }> {
  const { sandbox, ctx, token } = await useSandboxContext(t, options)
  const { client } = await useFhirClient(t, { baseDelayMs: 5 })
  return { sandbox, client, ctx, token }
}

t.test('URLs outside the practice base throw before any request', async (t) => {
  const { sandbox, client, ctx } = await setup(t)
  let tokenReads = 0
  const counted = { ...ctx, getAccessToken: async () => { tokenReads++; return await ctx.getAccessToken() } }
  const base = sandbox.fhirBaseUrl
  const origin = sandbox.origin
  const refused: Array<[string, string]> = [
    ['http://fhir4.eclinicalworks.com/fhir/r4/SANDBX/Condition', 'another origin'],
    [`http://localhost:${new URL(origin).port}/fhir/r4/SANDBX/Condition`, 'another origin'],
    [`${origin}/fhir/r4/OTHER/Condition`, 'a path outside the base'],
    [`${origin}/fhir/r4/SANDBXX/Condition`, 'a path outside the base'],
    [`${base}/../OTHER/Condition`, 'a path outside the base'],
    [`${base}/%2e%2e/OTHER`, 'a path outside the base'],
    [`${base}/Condition%2F..%2F..%2FOTHER`, 'an encoded path escape'],
    [`${origin.replace('http://', 'http://user:pw@')}/fhir/r4/SANDBX/Condition`, 'credentials in the URL'],
    ['/fhir/r4/SANDBX/Condition', 'not an absolute URL'],
    [`${origin}/oauth/oauth2/token`, 'a path outside the base']
  ]
  for (const [url, why] of refused) {
    await t.rejects(client.getJson(counted, url), { code: 'HEALOW_ERR_FHIR_TARGET', message: `Refusing a URL outside the practice FHIR base: ${why}` }, url)
    await t.rejects(client.getBinary(counted, url, 1000), { code: 'HEALOW_ERR_FHIR_TARGET' }, `binary ${url}`)
  }
  t.equal(sandbox.counters().requests, 0, 'nothing reached the practice')
  t.equal(tokenReads, 0, 'the token was not even read')
})

t.test('http is refused unless on loopback with allowLoopbackHttp; https bases pass the check', async (t) => {
  const { sandbox, ctx } = await setup(t)
  const { fetch, budget } = await usePracticeFetch(t, { limitPerMinute: 100 })
  const strict = createFhirClient({ fetch, budget })
  await t.rejects(strict.getJson(ctx, `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`), { code: 'HEALOW_ERR_FHIR_TARGET', message: /base is not https/ })
  t.throws(() => resolveFhirUrl('http://fhir.example.org/fhir/r4/X', 'http://fhir.example.org/fhir/r4/X/Goal', true), { code: 'HEALOW_ERR_FHIR_TARGET' }, 'non-loopback http')
  t.equal(resolveFhirUrl('https://fhir4.healow.com/fhir/r4/JAFJCD', 'https://fhir4.healow.com/fhir/r4/JAFJCD/Goal?patient=1#x').href, 'https://fhir4.healow.com/fhir/r4/JAFJCD/Goal?patient=1')
  t.equal(resolveFhirUrl('https://fhir4.healow.com/fhir/r4/JAFJCD/', new URL('https://fhir4.healow.com/fhir/r4/JAFJCD')).href, 'https://fhir4.healow.com/fhir/r4/JAFJCD')
  t.throws(() => resolveFhirUrl('https://fhir4.healow.com/fhir/r4/JAFJCD?x=1', 'https://fhir4.healow.com/fhir/r4/JAFJCD/Goal'), { code: 'HEALOW_ERR_FHIR_TARGET' })
  t.throws(() => resolveFhirUrl('https://fhir4.healow.com/fhir/r4/JAFJCD', 'https://fhir4.healow.com.evil.example/fhir/r4/JAFJCD/Goal'), { code: 'HEALOW_ERR_FHIR_TARGET' })
  t.equal(sandbox.counters().requests, 0)
})

t.test('sends Accept: application/json+fhir and the bearer token, and returns the parsed body', async (t) => {
  const seen: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    seen.push(req.headers)
    res.writeHead(200, { 'content-type': 'application/json+fhir;charset=UTF-8' })
    res.end('{"resourceType":"Patient","id":"p1"}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const port = (server.address() as { port: number }).port
  const { client } = await useFhirClient(t, { baseDelayMs: 5 })
  const ctx = { practiceId: 'LOCAL1', baseUrl: `http://127.0.0.1:${port}/fhir/r4/LOCAL1`, getAccessToken: async () => 'tok-123', onUnauthorized: async () => 'x' }
  const result = await client.getJson(ctx, `http://127.0.0.1:${port}/fhir/r4/LOCAL1/Patient/p1`)
  t.same(result, { status: 200, body: { resourceType: 'Patient', id: 'p1' } })
  t.equal(seen[0]?.accept, 'application/json+fhir')
  t.equal(seen[0]?.authorization, 'Bearer tok-123')
})

t.test('401: onUnauthorized once, then the new token is used', async (t) => {
  const { sandbox, client, ctx, token } = await setup(t)
  let refreshes = 0
  const stale = { ...ctx, getAccessToken: async () => 'expired-token-000', onUnauthorized: async () => { refreshes++; return token } }
  const { status, body } = await client.getJson(stale, `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`)
  t.equal(status, 200)
  t.equal((body as { id: string }).id, sandbox.patientId)
  t.equal(refreshes, 1)
  t.same(sandbox.counters().byStatus, { 401: 1, 200: 1 })
})

t.test('401 after a refresh: ReauthRequiredError, refreshed only once', async (t) => {
  const { sandbox, client, ctx } = await setup(t)
  let refreshes = 0
  const dead = { ...ctx, getAccessToken: async () => 'expired-token-000', onUnauthorized: async () => { refreshes++; return 'still-refused-111' } }
  const err = await client.getJson(dead, `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`).catch((e: unknown) => e)
  t.ok(err instanceof ReauthRequiredError)
  t.equal((err as { code: string }).code, 'HEALOW_ERR_REAUTH_REQUIRED')
  t.notMatch((err as Error).message, /expired-token|still-refused/, 'no token in the message')
  t.equal(refreshes, 1)
  t.same(sandbox.counters().byStatus, { 401: 2 })

  const gone = { ...ctx, getAccessToken: async () => 'expired-token-000', onUnauthorized: async () => { throw new ReauthRequiredError('invalid_grant') } }
  await t.rejects(client.getJson(gone, `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`), { code: 'HEALOW_ERR_REAUTH_REQUIRED', message: /invalid_grant/ })
})

t.test('400, 403 and 404 throw FhirSearchError with status and reason, without a retry', async (t) => {
  const { sandbox, client, ctx } = await setup(t)
  const narrow = (await sandbox.issueTokens({ scope: 'openid fhirUser patient/Patient.read' })).access_token
  const other = sandbox.patients[1]?.id ?? ''
  const cases: Array<[string, FhirRequestContext, number, string]> = [
    [`/Observation?patient=${sandbox.patientId}&_count=50`, ctx, 400, 'Invalid request: Does not know how to handle get operation with parameter [patient,_count]'],
    [`/Condition?patient=${other}`, ctx, 403, 'Access denied: the token does not grant access to this patient'],
    [`/Condition?patient=${sandbox.patientId}`, { ...ctx, getAccessToken: async () => narrow }, 403, 'Access denied: the token has no read scope for Condition'],
    ['/Condition/not-a-known-id', ctx, 404, 'Resource Condition/not-a-known-id is not known']
  ]
  for (const [path, context, status, reason] of cases) {
    sandbox.resetCounters()
    const err = await client.getJson(context, sandbox.fhirBaseUrl + path).catch((e: unknown) => e)
    t.ok(err instanceof FhirSearchError, path)
    t.match(err, { code: 'HEALOW_ERR_FHIR_SEARCH', status, reason, name: 'FhirSearchError', message: `The practice refused the request with status ${status}: ${reason}` }, path)
    t.equal(sandbox.counters().requests, 1, `${path}: not retried`)
  }
})

t.test('a long diagnostics text is cut to 200 characters; a non-FHIR error body gives the status', async (t) => {
  const bodies = [
    JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'x'.repeat(5000) }] }),
    '<html>Bad gateway page</html>',
    JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] })
  ]
  let i = 0
  const server = createServer((req, res) => {
    res.writeHead(i === 1 ? 400 : 404, { 'content-type': 'application/json+fhir' })
    res.end(bodies[i++])
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/fhir/r4/LOCAL1`
  const { client } = await useFhirClient(t, { baseDelayMs: 5 })
  const ctx = { practiceId: 'LOCAL1', baseUrl: base, getAccessToken: async () => 't', onUnauthorized: async () => 't' }
  const long = await client.getJson(ctx, `${base}/Goal`).then(() => undefined, (e: FhirSearchError) => e)
  t.equal(long?.reason, 'x'.repeat(199) + '…')
  t.match(await client.getJson(ctx, `${base}/Goal`).catch((e: unknown) => e), { status: 400, reason: 'HTTP 400' })
  t.match(await client.getJson(ctx, `${base}/Goal`).catch((e: unknown) => e), { status: 404, reason: 'not-found' })
})

t.test('an aborted signal stops an in-flight request and a backoff wait', async (t) => {
  const { sandbox, client, ctx } = await setup(t, { faults: { latencyMs: 5_000 } })
  const inFlight = new AbortController()
  const pending = client.getJson({ ...ctx, signal: inFlight.signal }, `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`)
  setTimeout(() => { inFlight.abort(new Error('sync cancelled')) }, 100)
  await t.rejects(pending, { message: 'sync cancelled' })

  sandbox.setFaults({ failRate: 1 })
  const { client: slow } = await useFhirClient(t, { baseDelayMs: 60_000, maxDelayMs: 60_000 })
  const waiting = new AbortController()
  const retried = slow.getJson({ ...ctx, signal: waiting.signal }, `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`)
  const poll = setInterval(() => { if ((sandbox.counters().byStatus['503'] ?? 0) >= 1) waiting.abort(new Error('stopping')) }, 10)
  t.teardown(() => { clearInterval(poll) })
  await t.rejects(retried, { message: 'stopping' })
  t.equal(sandbox.counters().byStatus['503'], 1, 'no second attempt after the abort')
  await t.rejects(client.getJson({ ...ctx, signal: AbortSignal.abort(new Error('already')) }, `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`), { message: 'already' })
})

t.test('options are checked', async (t) => {
  const { fetch, budget } = await usePracticeFetch(t, { limitPerMinute: 10 })
  t.throws(() => createFhirClient({ fetch, budget, maxAttempts: 0 }), RangeError)
  t.throws(() => createFhirClient({ fetch, budget, baseDelayMs: -1 }), RangeError)
  t.throws(() => createFhirClient({ fetch, budget, maxResponseBytes: 1.5 }), RangeError)
})
