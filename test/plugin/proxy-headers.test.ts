import t from 'tap'
import { build } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'
import { DEFAULT_MAX_BUFFERED_BYTES } from '../../plugin/proxy/body.js'
import { addConnection, buildProxyHost, proxyGet, rawRequest, startEchoPractice, USER_HEADER } from './proxy-helpers.js'

/** Headers our responses may carry: the allow-list, plus Node's and the rate limit's own. */
const ALLOWED_RESPONSE_HEADERS = new Set([
  'content-type', 'etag', 'last-modified', 'content-length', 'cache-control',
  'date', 'connection', 'keep-alive', 'transfer-encoding',
  'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'
])

t.test('client credentials never reach the practice; practice-only headers never reach the client', async (t) => {
  const ctx = await buildProxyHost(t)
  const echo = await startEchoPractice(t)
  const connection = await addConnection(ctx, 'alice', { tenant: echo.tenant })
  const token = (await ctx.app.healow.connections.readTokens(connection.id))?.accessToken ?? ''
  t.ok(token.length > 10)

  const res = await proxyGet(ctx, 'alice', connection.id, 'Patient/p1', {
    cookie: 'healow_device=forged; session=client-session-secret',
    authorization: 'Bearer client-bearer-secret',
    'proxy-authorization': 'Basic Y2xpZW50OnNlY3JldA==',
    'x-forwarded-for': '203.0.113.9',
    forwarded: 'for=203.0.113.9;host=evil.example',
    origin: 'https://evil.example',
    'accept-encoding': 'gzip, br',
    accept: 'text/html',
    'if-none-match': 'W/"2"',
    'if-modified-since': 'Wed, 20 Nov 2024 06:00:01 GMT'
  })
  t.equal(res.status, 200)
  t.same(JSON.parse(res.body), { resourceType: 'Patient', id: 'p1' })

  t.equal(echo.seen.length, 1)
  const seen = echo.seen[0]
  t.equal(seen?.method, 'GET')
  t.equal(seen?.url, '/fhir/r4/ECHO01/Patient/p1')
  t.same(seen?.headers, {
    host: new URL(echo.origin).host,
    connection: 'keep-alive',
    accept: 'application/json+fhir',
    authorization: `Bearer ${token}`,
    'user-agent': 'fastify-healow',
    'if-none-match': 'W/"2"',
    'if-modified-since': 'Wed, 20 Nov 2024 06:00:01 GMT'
  }, 'upstream headers are built from scratch')

  t.equal(res.headers['content-type'], 'application/json+fhir;charset=UTF-8')
  t.equal(res.headers.etag, 'W/"3"')
  t.equal(res.headers['last-modified'], 'Thu, 21 Nov 2024 06:00:01 GMT')
  t.equal(res.headers['cache-control'], 'private, no-store')
  for (const name of ['set-cookie', 'server', 'x-powered-by', 'content-location', 'x-request-id', 'access-control-allow-origin', 'strict-transport-security']) {
    t.equal(res.headers[name], undefined, `no ${name}`)
  }
  t.same(Object.keys(res.headers).filter((h) => !ALLOWED_RESPONSE_HEADERS.has(h)), [], 'only allow-listed headers')

  const logs = ctx.logs.text()
  for (const secret of [token, 'client-session-secret', 'client-bearer-secret', 'Y2xpZW50OnNlY3JldA==']) t.notOk(logs.includes(secret), 'no credential in the logs')
})

t.test('a non-JSON body keeps its length; a rewritten JSON one has its own, or none when streamed', async (t) => {
  const ctx = await buildProxyHost(t)
  const echo = await startEchoPractice(t)
  const connection = await addConnection(ctx, 'alice', { tenant: echo.tenant })
  const pdf = Buffer.from('%PDF-1.4 not really a pdf')
  echo.respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(pdf.length), 'content-disposition': 'attachment; filename="x.pdf"' })
    res.end(pdf)
  }
  const binary = await proxyGet(ctx, 'alice', connection.id, 'Binary/b1')
  t.equal(binary.status, 200)
  t.equal(binary.headers['content-type'], 'application/pdf')
  t.equal(binary.headers['content-length'], String(pdf.length))
  t.equal(binary.headers['content-disposition'], undefined)
  t.equal(binary.body, pdf.toString())

  /** A Bundle with its practice-side length declared; returns that length. */
  const sendBundle = (padding: string): number => {
    const body = JSON.stringify({ resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'self', url: `${echo.tenant.url}/Goal?patient=p1` }], entry: [{ padding }] })
    echo.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': String(Buffer.byteLength(body)) })
      res.end(body)
    }
    return Buffer.byteLength(body)
  }
  const declared = sendBundle('')
  const bundle = await proxyGet(ctx, 'alice', connection.id, 'Goal?patient=p1')
  t.equal(bundle.status, 200)
  t.equal(bundle.headers['transfer-encoding'], undefined, 'a small body is sent whole')
  t.equal(bundle.headers['content-length'], String(Buffer.byteLength(bundle.body)), 'the length of the rewritten body')
  t.not(bundle.headers['content-length'], String(declared), 'not the practice\'s')
  t.equal(JSON.parse(bundle.body).link[0].url, `${ctx.origin}/healow/proxy/${connection.id}/Goal?patient=p1`)

  // Past the buffering limit the body streams: its new length is not known when the headers go out.
  sendBundle('x'.repeat(DEFAULT_MAX_BUFFERED_BYTES))
  const large = await proxyGet(ctx, 'alice', connection.id, 'Goal?patient=p1')
  t.equal(large.status, 200)
  t.equal(large.headers['content-length'], undefined, 'a rewritten streamed body has another length')
  t.equal(large.headers['transfer-encoding'], 'chunked')
  const parsed = JSON.parse(large.body)
  t.equal(parsed.link[0].url, `${ctx.origin}/healow/proxy/${connection.id}/Goal?patient=p1`)
  t.equal(parsed.entry[0].padding.length, DEFAULT_MAX_BUFFERED_BYTES)
})

t.test('a raw CR LF that Node accepts as a header line stays on our side', async (t) => {
  const ctx = await buildProxyHost(t)
  const echo = await startEchoPractice(t)
  const connection = await addConnection(ctx, 'alice', { tenant: echo.tenant })
  const res = await rawRequest(ctx.origin, `/healow/proxy/${connection.id}/Patient/p1\r\nX-Injected: 1`, { [USER_HEADER]: 'alice' })
  t.equal(res.status, 200)
  t.same(echo.seen.map((s) => s.url), ['/fhir/r4/ECHO01/Patient/p1'])
  t.equal(echo.seen[0]?.headers['x-injected'], undefined)
})

t.test('with the device cookie: the browser\'s cookies and a forged Authorization never reach the practice', async (t) => {
  const ctx = await build(t)
  const { browser, connectionId } = await connect(ctx)
  t.ok(connectionId)
  ctx.sandbox.resetCounters()
  const jar = [...(browser.cookies.get(ctx.origin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ')
  t.match(jar, /healow_device=/)
  const res = await rawRequest(ctx.origin, `/healow/proxy/${connectionId ?? ''}/Patient/${ctx.sandbox.patientId}`, {
    cookie: `${jar}; other=cookie-secret`,
    authorization: 'Bearer forged-token'
  })
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).id, ctx.sandbox.patientId)
  const counters = ctx.sandbox.counters()
  t.same(counters.requestLog, [{ method: 'GET', url: `/fhir/r4/SANDBX/Patient/${ctx.sandbox.patientId}`, host: new URL(ctx.sandbox.origin).host, authorization: true }])
  t.same(counters.byStatus, { 200: 1 }, 'our token was sent: no 401 to recover from')
  t.same(counters.tokenGrants, {}, 'no refresh was needed')
  t.notOk(ctx.logs.text().includes('cookie-secret'))
  t.notOk(ctx.logs.text().includes('forged-token'))
})
