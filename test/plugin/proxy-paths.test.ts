import t from 'tap'
import { addConnection, buildProxyHost, rawRequest, USER_HEADER } from './proxy-helpers.js'

const USER = 'user-paths'
const LONG_PATH = `Observation/${'a'.repeat(1100)}`
const LONG_QUERY = `Observation?patient=p1&category=${'a'.repeat(2100)}`

/**
 * Hostile request targets. `suffix` follows `/healow/proxy/{id}/` unless it
 * starts with `!`, in which case the rest is the whole request target
 * (`{id}` replaced). `status` is what the client gets; `code` our error
 * code, or undefined when the HTTP parser (Node's) refuses the request
 * line before any route runs.
 */
const HOSTILE: Array<{ name: string, suffix: string, status: number, code?: string }> = [
  { name: 'dot-dot before the type', suffix: '../Observation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'dot-dot after the type', suffix: 'Patient/../Observation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'dot-dot leaving the practice', suffix: 'Patient/../../OTHER/Patient', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'single dot segment', suffix: 'Patient/./p1', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded dot-dot', suffix: '%2e%2e/Observation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded dot-dot, upper case', suffix: '%2E%2E/Observation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'half-encoded dot-dot, mixed case', suffix: '.%2E/Observation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded single dot as the id', suffix: 'Patient/%2e', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded slashes around dot-dot', suffix: 'Patient%2F..%2FObservation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded slashes, lower case', suffix: 'Patient%2f..%2fObservation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded slash after dot-dot', suffix: 'Patient/..%2FObservation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'double-encoded dot-dot', suffix: '%252e%252e/Observation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'double-encoded slash', suffix: 'Patient%252F..%252FObservation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded backslashes', suffix: 'Patient%5c..%5cObservation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'raw backslashes', suffix: 'Patient\\..\\Observation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'unicode two-dot leader, encoded', suffix: 'Patient/%E2%80%A5', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'fullwidth full stops, encoded', suffix: 'Patient/%EF%BC%8E%EF%BC%8E/Observation', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'fullwidth full stops, raw UTF-8', suffix: 'Patient/\uff0e\uff0e/Observation', status: 400 },
  { name: 'double slash to another host', suffix: '/evil.example/Patient', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'triple slash', suffix: '//evil.example/x', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'absolute URL as the path', suffix: 'http://evil.example/', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded absolute URL', suffix: 'https:%2F%2Fevil.example%2FPatient', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'userinfo-looking path', suffix: '@evil.example/Patient', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'at sign after the type', suffix: 'Patient@evil.example', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'raw at sign in the query', suffix: 'Patient?_id=x@evil.example', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded CR LF in the path', suffix: 'Patient/%0d%0aX-Injected:%201', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded CR LF in the query', suffix: 'Patient?_id=p1%0D%0AX-Injected:1', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'raw CR LF in the request line', suffix: 'Pati\r\nent/../../OTHER/Patient', status: 400 },
  { name: 'encoded NUL in the path', suffix: 'Patient%00/p1', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded NUL in the query', suffix: 'Patient?_id=%00', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'raw tab in the path', suffix: 'Patient/\tp1', status: 400 },
  { name: 'malformed percent escape in the query', suffix: 'Patient?_id=%zz', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'unknown type', suffix: 'Account/1', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'lower-case type', suffix: 'patient/p1', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'upper-case type', suffix: 'PATIENT', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'discovery document', suffix: '.well-known/smart-configuration', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'matrix parameter on the type', suffix: 'Patient;jsessionid=x/p1', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'matrix parameter on the id', suffix: 'Patient/p1;x=y', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'an operation', suffix: 'Patient/p1/$everything', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'search by POST path', suffix: 'Patient/_search', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'history without a version', suffix: 'Patient/p1/_history', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'id longer than FHIR allows', suffix: `Patient/${'a'.repeat(65)}`, status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'trailing slash', suffix: 'Patient/', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded question mark', suffix: 'Patient%3F_id=p1', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'fragment sent raw', suffix: 'Patient?_id=p1#../../OTHER', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'the base with a search but no paging id', suffix: '?_id=p1', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'the base with nothing', suffix: '', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'metadata and dot-dot', suffix: 'metadata/../Patient', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'over-long path', suffix: LONG_PATH, status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'over-long query', suffix: LONG_QUERY, status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'encoded slash in the connection id', suffix: '!/healow/proxy/{id}%2F..%2Fother/Patient', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'dot-dot before the connection id', suffix: '!/healow/proxy/..%2F{id}/Patient', status: 400, code: 'HEALOW_ERR_PROXY_PATH' },
  { name: 'absolute-form request target', suffix: '!http://evil.example/healow/proxy/{id}/Patient', status: 400, code: 'HEALOW_ERR_PROXY_PATH' }
]

t.test('hostile paths are refused and none reaches the practice', async (t) => {
  const ctx = await buildProxyHost(t, { plugin: { proxyRateLimit: 1000 } })
  const connection = await addConnection(ctx, USER)
  ctx.sandbox.resetCounters()
  t.ok(HOSTILE.length >= 30, `${HOSTILE.length} hostile paths`)
  for (const c of HOSTILE) {
    const target = c.suffix.startsWith('!') ? c.suffix.slice(1).replace('{id}', connection.id) : `/healow/proxy/${connection.id}/${c.suffix}`
    const res = await rawRequest(ctx.origin, target, { [USER_HEADER]: USER })
    t.equal(res.status, c.status, `${c.name}: status`)
    if (c.code !== undefined) t.equal(JSON.parse(res.body).code, c.code, `${c.name}: code`)
    t.equal(ctx.sandbox.counters().requests, 0, `${c.name}: no upstream request`)
  }
  const counters = ctx.sandbox.counters()
  t.same(counters.paths, [], 'the practice saw no path at all')
  t.same(counters.requestLog, [])
})

t.test('accepted paths reach exactly the path asked for, on the practice host, with our token', async (t) => {
  const ctx = await buildProxyHost(t, { plugin: { proxyRateLimit: 1000 } })
  const connection = await addConnection(ctx, USER)
  const pid = ctx.sandbox.patientId
  const base = new URL(ctx.sandbox.fhirBaseUrl)
  const accepted: Array<{ sent: string, status: number, method?: string, headers?: Record<string, string> }> = [
    { sent: `Patient/${pid}`, status: 200 },
    { sent: `Observation?patient=${pid}&category=laboratory&_count=5`, status: 200 },
    { sent: `CareTeam?patient=Patient%2F${pid}&status=active`, status: 200 },
    { sent: 'metadata', status: 200 },
    // The practice refuses the parameter (a passed-on 400), but the query arrives exactly as sent.
    { sent: `Condition?patient=${pid}&code=http://snomed.info/sct|44054006`, status: 400 },
    { sent: `Patient/${pid}/_history/1`, status: 404 },
    { sent: '?_getpages=abc123&_getpagesoffset=50&_count=50', status: 404 },
    { sent: `Patient/${pid}`, status: 200, method: 'HEAD' },
    // A forged Host header changes nothing upstream.
    { sent: `Patient/${pid}`, status: 200, headers: { host: 'evil.example' } }
  ]
  for (const a of accepted) {
    ctx.sandbox.resetCounters()
    const headers = { [USER_HEADER]: USER, ...a.headers }
    const res = await rawRequest(ctx.origin, `/healow/proxy/${connection.id}/${a.sent}`, headers, a.method ?? 'GET')
    t.equal(res.status, a.status, `${a.sent}: status`)
    const upstream = a.sent.startsWith('?') ? `${base.pathname}${a.sent}` : `${base.pathname}/${a.sent}`
    const counters = ctx.sandbox.counters()
    t.same(counters.paths, [upstream], `${a.sent}: exactly that upstream path`)
    t.same(counters.requestLog, [{ method: a.method ?? 'GET', url: upstream, host: base.host, authorization: true }], `${a.sent}: host and token`)
  }
})
