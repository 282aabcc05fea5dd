import t from 'tap'
import { CARE_PLAN_CATEGORY, CARE_TEAM_STATUSES, OBSERVATION_CATEGORIES } from '../../sandbox/index.js'
import { addConnection, buildProxyHost, proxyGet, startEchoPractice } from './proxy-helpers.js'

const BY_PATIENT = ['AllergyIntolerance', 'Condition', 'Device', 'DiagnosticReport', 'DocumentReference', 'Encounter', 'Goal', 'Immunization', 'MedicationRequest', 'Procedure'] as const
const PAGE = 4

interface Link { relation: string, url: string }

t.test('a whole record pages through the proxy by its rewritten next links', async (t) => {
  const ctx = await buildProxyHost(t, { plugin: { proxyRateLimit: 1000, practiceRateLimit: 249 }, sandbox: { rateLimit: 0 } })
  const connection = await addConnection(ctx, 'alice')
  const pid = ctx.sandbox.patientId
  const proxyBase = `${ctx.origin}/healow/proxy/${connection.id}/`
  const searches = [
    ...BY_PATIENT.map((type) => ({ type, part: '', first: `${type}?patient=${pid}&_count=${PAGE}` })),
    ...OBSERVATION_CATEGORIES.map((c) => ({ type: 'Observation', part: c, first: `Observation?patient=${pid}&category=${c}&_count=${PAGE}` })),
    ...CARE_TEAM_STATUSES.map((s) => ({ type: 'CareTeam', part: s, first: `CareTeam?patient=Patient%2F${pid}&status=${s}&_count=${PAGE}` })),
    { type: 'CarePlan', part: '', first: `CarePlan?patient=${pid}&category=${CARE_PLAN_CATEGORY}&_count=${PAGE}` }
  ]
  const expected = ctx.sandbox.expectedCounts()
  const byType: Record<string, number> = {}
  const byCategory: Record<string, number> = {}
  const byStatus: Record<string, number> = {}
  let pages = 0
  let multiPage = 0
  ctx.sandbox.resetCounters()
  for (const search of searches) {
    let path: string | undefined = search.first
    const ids = new Set<string>()
    let pagesOfSearch = 0
    while (path !== undefined) {
      const res = await proxyGet(ctx, 'alice', connection.id, path)
      t.equal(res.status, 200, path)
      const body = JSON.parse(res.body) as { link: Link[], entry?: Array<{ resource: { id: string, resourceType: string } }> }
      for (const link of body.link) {
        t.ok(link.url.startsWith(proxyBase), `${link.relation} link points back through the proxy`)
      }
      t.notOk(JSON.stringify(body.link).includes('eclinicalworks'), 'no practice URL in the links')
      for (const entry of body.entry ?? []) {
        t.equal(entry.resource.resourceType, search.type)
        ids.add(entry.resource.id)
      }
      pages++
      pagesOfSearch++
      const next = body.link.find((l) => l.relation === 'next')?.url
      path = next?.slice(proxyBase.length)
    }
    if (pagesOfSearch > 1) multiPage++
    byType[search.type] = (byType[search.type] ?? 0) + ids.size
    if (search.type === 'Observation') byCategory[search.part] = ids.size
    if (search.type === 'CareTeam') byStatus[search.part] = ids.size
  }
  t.same(byType, expected.byType, 'every resource, once')
  t.same(byCategory, expected.observationByCategory)
  t.same(byStatus, expected.careTeamByStatus)
  const sizes = searches.map((s) => s.type === 'Observation' ? expected.observationByCategory[s.part] ?? 0
    : s.type === 'CareTeam' ? expected.careTeamByStatus[s.part] ?? 0 : expected.byType[s.type] ?? 0)
  t.equal(multiPage, sizes.filter((n) => n > PAGE).length, `${multiPage} searches span several pages`)
  t.ok(multiPage >= 8)
  t.equal(pages, sizes.reduce((sum, n) => sum + Math.max(1, Math.ceil(n / PAGE)), 0), `${pages} pages`)
  const counters = ctx.sandbox.counters()
  t.equal(counters.requests, pages, 'one upstream request per page')
  t.ok(counters.requestLog.every((r) => r.url.startsWith('/fhir/r4/SANDBX/') && r.host === new URL(ctx.sandbox.origin).host))
})

t.test('links are rebased from any origin; a link leaving the practice base is dropped', async (t) => {
  const ctx = await buildProxyHost(t)
  const echo = await startEchoPractice(t)
  const connection = await addConnection(ctx, 'alice', { tenant: echo.tenant })
  const links = [
    { relation: 'self', url: 'http://fhir4.eclinicalworks.com/fhir/r4/ECHO01/Goal?patient=p1' },
    { relation: 'next', url: 'http://links.example.test/fhir/r4/ECHO01/Goal?patient=p1&_count=5&_offset=5' },
    { relation: 'first', url: 'http://fhir4.eclinicalworks.com/fhir/r4/OTHER/Goal?patient=p1' },
    { relation: 'previous', url: 'http://fhir4.eclinicalworks.com/fhir/r4/ECHO01/../OTHER/Goal' },
    { relation: 'last', url: 'http://fhir4.eclinicalworks.com/fhir/r4/ECHO01?_getpages=abc&_getpagesoffset=50' }
  ]
  echo.respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json+fhir;charset=UTF-8' })
    res.end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 1, link: links, entry: [{ resource: { resourceType: 'Goal', id: 'g1' } }] }))
  }
  const res = await proxyGet(ctx, 'alice', connection.id, 'Goal?patient=p1')
  t.equal(res.status, 200)
  const base = `${ctx.origin}/healow/proxy/${connection.id}`
  t.same(JSON.parse(res.body), {
    resourceType: 'Bundle',
    type: 'searchset',
    total: 1,
    link: [
      { relation: 'self', url: `${base}/Goal?patient=p1` },
      { relation: 'next', url: `${base}/Goal?patient=p1&_count=5&_offset=5` },
      { relation: 'last', url: `${base}/?_getpages=abc&_getpagesoffset=50` }
    ],
    entry: [{ resource: { resourceType: 'Goal', id: 'g1' } }]
  })
  // HAPI paging on the base goes through the proxy too.
  const paged = await proxyGet(ctx, 'alice', connection.id, '?_getpages=abc&_getpagesoffset=50')
  t.equal(paged.status, 200)
  t.same(echo.seen.map((s) => s.url), ['/fhir/r4/ECHO01/Goal?patient=p1', '/fhir/r4/ECHO01?_getpages=abc&_getpagesoffset=50'])
})
