import t from 'tap'
import { request } from 'undici'
import { createDirectory } from '../../core/directory.js'
import { freePort } from '../helpers/redis.js'
import { addConnection, buildProxyHost, proxyGet, rawRequest, startEchoPractice, USER_HEADER } from './proxy-helpers.js'

const MiB = 1024 * 1024

/** Reads and searches only: a refresh also reads the practice's discovery documents. */
function resourceRequests (urls: string[]): string[] {
  return urls.filter((u) => u.startsWith('/fhir/') && !u.includes('/.well-known/') && !u.endsWith('/metadata'))
}

t.test('a practice that cannot be reached is a 502; one too slow is a 504', async (t) => {
  const ctx = await buildProxyHost(t, { plugin: { upstreamTimeout: '300ms' } })
  const port = await freePort()
  const dead = await addConnection(ctx, 'alice', { tenant: { ...ctx.tenant, id: 'DEAD01', url: `http://127.0.0.1:${port}/fhir/r4/DEAD01` } })
  const refused = await proxyGet(ctx, 'alice', dead.id, 'Patient/p1')
  t.equal(refused.status, 502)
  t.equal(JSON.parse(refused.body).code, 'HEALOW_ERR_UPSTREAM')

  const slow = await addConnection(ctx, 'alice')
  ctx.sandbox.setFaults({ latencyMs: 2000 })
  const timedOut = await proxyGet(ctx, 'alice', slow.id, `Patient/${ctx.sandbox.patientId}`)
  t.equal(timedOut.status, 504)
  t.equal(JSON.parse(timedOut.body).code, 'HEALOW_ERR_UPSTREAM_TIMEOUT')
  t.notOk(ctx.logs.text().includes('ECONNREFUSED'), 'no transport detail in the logs or the answer')
})

t.test('practice errors pass on with their status as OperationOutcomes', async (t) => {
  const ctx = await buildProxyHost(t)
  const connection = await addConnection(ctx, 'alice')
  const notFound = await proxyGet(ctx, 'alice', connection.id, 'Patient/nobody')
  t.equal(notFound.status, 404)
  t.equal(notFound.headers['content-type'], 'application/fhir+json; charset=utf-8')
  const outcome = JSON.parse(notFound.body)
  t.equal(outcome.resourceType, 'OperationOutcome')
  t.same(outcome.issue, [{ severity: 'error', code: 'not-found', diagnostics: 'Resource Patient/nobody is not known' }], 'the practice\'s own outcome')

  const refused = await proxyGet(ctx, 'alice', connection.id, `Observation?patient=${ctx.sandbox.patientId}&_count=50`)
  t.equal(refused.status, 400)
  t.same(JSON.parse(refused.body).issue, [{
    severity: 'error', code: 'processing', diagnostics: 'Invalid request: Does not know how to handle get operation with parameter [patient,_count]'
  }], 'Healow\'s 400 for Observation without a category')

  const echo = await startEchoPractice(t)
  const viaEcho = await addConnection(ctx, 'alice', { tenant: echo.tenant })
  echo.respond = (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/html', server: 'practice' })
    res.end('<html>down for maintenance at internal-host-17</html>')
  }
  const down = await proxyGet(ctx, 'alice', viaEcho.id, 'Patient/p1')
  t.equal(down.status, 503)
  t.same(JSON.parse(down.body), { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: 'The practice answered with HTTP 503' }] })
  t.equal(down.headers.server, undefined)

  echo.respond = (_req, res) => {
    res.writeHead(302, { location: 'https://elsewhere.example/fhir/Patient/p1' })
    res.end()
  }
  const redirected = await proxyGet(ctx, 'alice', viaEcho.id, 'Patient/p1')
  t.equal(redirected.status, 502)
  t.equal(redirected.headers.location, undefined, 'a redirect is neither followed nor handed out')
  t.equal(echo.seen.length, 2)

  echo.respond = (req, res) => {
    res.writeHead(req.headers['if-none-match'] === 'W/"3"' ? 304 : 200, { etag: 'W/"3"', 'last-modified': 'Thu, 21 Nov 2024 06:00:01 GMT' })
    res.end()
  }
  const unchanged = await proxyGet(ctx, 'alice', viaEcho.id, 'Patient/p1', { 'if-none-match': 'W/"3"' })
  t.equal(unchanged.status, 304)
  t.equal(unchanged.headers.etag, 'W/"3"')
})

t.test('a 401 refreshes once through the shared token manager and retries', async (t) => {
  const ctx = await buildProxyHost(t)
  const connection = await addConnection(ctx, 'alice', { tokens: { accessToken: 'revoked-at-the-practice' } })
  ctx.sandbox.resetCounters()
  const res = await proxyGet(ctx, 'alice', connection.id, `Patient/${ctx.sandbox.patientId}`)
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).id, ctx.sandbox.patientId)
  const counters = ctx.sandbox.counters()
  t.same(counters.tokenGrants, { refresh_token: 1 })
  t.same(resourceRequests(counters.paths), [`/fhir/r4/SANDBX/Patient/${ctx.sandbox.patientId}`, `/fhir/r4/SANDBX/Patient/${ctx.sandbox.patientId}`], 'the call and its retry')
  t.equal(counters.byStatus['401'], 1, 'one 401')
  const stored = await ctx.app.healow.connections.readTokens(connection.id)
  t.not(stored?.accessToken, 'revoked-at-the-practice', 'the new token is stored')
  t.notOk(ctx.logs.text().includes(stored?.accessToken ?? 'x'), 'no token in the logs')
})

t.test('a token about to expire is refreshed before the call', async (t) => {
  const ctx = await buildProxyHost(t)
  const connection = await addConnection(ctx, 'alice', { tokens: { expiresAt: Date.now() + 30_000, obtainedAt: Date.now() - 3_570_000 } })
  ctx.sandbox.resetCounters()
  const res = await proxyGet(ctx, 'alice', connection.id, `Patient/${ctx.sandbox.patientId}`)
  t.equal(res.status, 200)
  const counters = ctx.sandbox.counters()
  t.same(counters.tokenGrants, { refresh_token: 1 })
  t.same(resourceRequests(counters.paths), [`/fhir/r4/SANDBX/Patient/${ctx.sandbox.patientId}`], 'one call')
  t.equal(counters.byStatus['401'], undefined, 'no 401')
})

t.test('reauth_required is a 409 that says to connect again; nothing is sent', async (t) => {
  const ctx = await buildProxyHost(t)
  const connection = await addConnection(ctx, 'alice')
  await ctx.app.healow.connections.markReauthRequired(connection.id, 'invalid_grant')
  ctx.sandbox.resetCounters()
  const res = await proxyGet(ctx, 'alice', connection.id, `Patient/${ctx.sandbox.patientId}`)
  t.equal(res.status, 409)
  const body = JSON.parse(res.body)
  t.equal(body.code, 'HEALOW_ERR_REAUTH_REQUIRED')
  t.match(body.message, /invalid_grant.*connect again/)
  t.equal(ctx.sandbox.counters().requests, 0)
})

t.test('nobody reaches a connection that is not theirs', async (t) => {
  const ctx = await buildProxyHost(t)
  const alices = await addConnection(ctx, 'alice')
  ctx.sandbox.resetCounters()
  const path = `Patient/${ctx.sandbox.patientId}`
  for (const [name, user, id] of [['another user', 'mallory', alices.id], ['an unknown id', 'alice', 'AAAAAAAAAAAAAAAAAAAAAA']] as const) {
    const res = await proxyGet(ctx, user, id, path)
    t.equal(res.status, 404, name)
    t.equal(JSON.parse(res.body).code, 'HEALOW_ERR_NOT_FOUND', name)
    t.equal(res.headers['cache-control'], 'private, no-store', `${name}: not cached either`)
  }
  const anonymous = await rawRequest(ctx.origin, `/healow/proxy/${alices.id}/${path}`)
  t.equal(anonymous.status, 401)
  t.equal(JSON.parse(anonymous.body).code, 'HEALOW_ERR_UNAUTHENTICATED')
  const post = await rawRequest(ctx.origin, `/healow/proxy/${alices.id}/${path}`, { [USER_HEADER]: 'alice', 'content-length': '0' }, 'POST')
  t.equal(post.status, 404, 'only GET and HEAD are routed')
  t.equal(ctx.sandbox.counters().requests, 0, 'no upstream request')
})

t.test('bodies over 32 MiB: refused when declared, cut when streamed', async (t) => {
  const ctx = await buildProxyHost(t)
  const echo = await startEchoPractice(t)
  const connection = await addConnection(ctx, 'alice', { tenant: echo.tenant })
  echo.respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(33 * MiB) })
    res.end()
  }
  const declared = await proxyGet(ctx, 'alice', connection.id, 'Binary/b1')
  t.equal(declared.status, 502)
  t.equal(JSON.parse(declared.body).code, 'HEALOW_ERR_PROXY_BODY_TOO_LARGE')

  const chunk = Buffer.alloc(MiB, 0x61)
  echo.respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    let sent = 0
    const more = (): void => {
      while (sent < 40) {
        sent++
        if (!res.write(chunk)) { res.once('drain', more); return }
      }
      res.end()
    }
    res.on('close', () => { sent = 40 })
    more()
  }
  const res = await request(`${ctx.origin}/healow/proxy/${connection.id}/Binary/b1`, { headers: { [USER_HEADER]: 'alice' } })
  t.equal(res.statusCode, 200, 'headers went out before the body grew too large')
  let received = 0
  await t.rejects((async () => { for await (const part of res.body) received += (part as Buffer).length })(), 'the response is cut')
  t.ok(received <= 32 * MiB, `${received} bytes at most the cap`)
})

t.test('a freshly refreshed token refused again is a 409: one refresh, two calls, no loop', async (t) => {
  const echo = await startEchoPractice(t)
  const ctx = await buildProxyHost(t, { plugin: { directory: createDirectory([echo.tenant]) } })
  const connection = await addConnection(ctx, 'alice', { tenant: echo.tenant })
  echo.respond = (req, res) => {
    if (req.url === '/fhir/r4/ECHO01/.well-known/smart-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ issuer: echo.origin, authorization_endpoint: echo.tenant.authorize, token_endpoint: echo.tenant.token }))
      return
    }
    if (req.url === '/token') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ access_token: 'fresh-token-also-refused', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rotated', scope: 'patient/Patient.read' }))
      return
    }
    res.writeHead(req.url?.startsWith('/fhir/r4/ECHO01/Patient') === true ? 401 : 404, { 'content-type': 'application/json+fhir' })
    res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: 'no' }] }))
  }
  const res = await proxyGet(ctx, 'alice', connection.id, 'Patient/p1')
  t.equal(res.status, 409)
  t.equal(JSON.parse(res.body).code, 'HEALOW_ERR_REAUTH_REQUIRED')
  const calls = echo.seen.filter((s) => s.url === '/fhir/r4/ECHO01/Patient/p1')
  t.equal(calls.length, 2, 'the call and one retry')
  t.equal(calls[1]?.headers.authorization, 'Bearer fresh-token-also-refused', 'the retry carries the refreshed token')
  t.equal(echo.seen.filter((s) => s.url === '/token').length, 1, 'one refresh')
  t.equal((await ctx.app.healow.connections.readTokens(connection.id))?.refreshToken, 'rotated', 'the rotated refresh token was stored')
})
