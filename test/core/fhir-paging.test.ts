import { createServer, type Server } from 'node:http'
import t, { type Test } from 'tap'
import type { FhirClient } from '../../core/fhir-client.js'
import { DEFAULT_MAX_PAGES, PagingError, pageSearch, type Page } from '../../core/fhir-paging.js'
import { buildSearchPlan, type PlannedSearch } from '../../core/search-plan.js'
import { useFhirClient, useSandboxContext } from '../helpers/fhir.js'

async function useClient (t: Test): Promise<FhirClient> {
  return (await useFhirClient(t, { baseDelayMs: 5 })).client
}

/** A server on port 0 that answers every request with `handler`'s JSON, and counts what it saw. */
async function useServer (t: Test, handler: (path: string) => unknown): Promise<{ origin: string, seen: string[] }> {
  const seen: string[] = []
  const server: Server = createServer((req, res) => {
    seen.push(req.url ?? '')
    res.writeHead(200, { 'content-type': 'application/json+fhir' })
    res.end(JSON.stringify(handler(req.url ?? '')))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const address = server.address()
  return { origin: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, seen }
}

async function collect (pages: AsyncGenerator<Page>): Promise<{ pages: Page[], error: unknown }> {
  const out: Page[] = []
  try {
    for await (const page of pages) out.push(page)
  } catch (error) {
    return { pages: out, error }
  }
  return { pages: out, error: undefined }
}

t.test('the whole plan pages to exactly the expected counts; nothing goes to the link origin', async (t) => {
  // The links name a real server of ours: had anything followed them verbatim, it would have seen it.
  const trap = await useServer(t, () => ({ resourceType: 'Bundle', type: 'searchset', total: 0 }))
  const { sandbox, ctx } = await useSandboxContext(t, { size: 'medium', linkOrigin: trap.origin })
  const client = await useClient(t)
  const byType: Record<string, number> = {}
  const ids = new Set<string>()
  let pages = 0
  let wrongType = 0
  for (const search of buildSearchPlan(sandbox.patientId)) {
    const numbers: number[] = []
    for await (const page of pageSearch(client, ctx, search)) {
      pages++
      numbers.push(page.pageNumber)
      for (const r of page.resources) {
        if (r.resourceType !== search.type) wrongType++
        ids.add(`${r.resourceType}/${r.id}`)
        byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1
      }
    }
    t.same(numbers, numbers.map((_, i) => i + 1), `${search.id}: page numbers count up from 1`)
  }
  t.equal(wrongType, 0, 'only the searched type')
  const expected = sandbox.expectedCounts()
  for (const [type, n] of Object.entries(expected.byType)) t.equal(byType[type] ?? 0, n, type)
  t.equal(byType.Patient, 1)
  t.equal(ids.size, expected.total + 1, 'no resource twice')
  t.ok(pages > 40, `many pages (${pages})`)
  t.same(trap.seen, [], 'the link origin received nothing')
  const counters = sandbox.counters()
  const host = new URL(sandbox.origin).host
  t.ok(counters.requestLog.length === pages && counters.requestLog.every((r) => r.host === host && r.authorization), 'every request went to the base host, with the token')
  t.ok(counters.paths.filter((p) => p.includes('_offset=')).length > 20, 'next links were followed')
})

t.test('the links the sandbox sends are foreign, like Healow\'s', async (t) => {
  const { sandbox, ctx } = await useSandboxContext(t)
  const client = await useClient(t)
  const { body } = await client.getJson(ctx, `${sandbox.fhirBaseUrl}/Observation?patient=${sandbox.patientId}&category=laboratory&_count=10`)
  const next = (body as { link: Array<{ relation: string, url: string }> }).link.find((l) => l.relation === 'next')
  t.equal(new URL(next?.url ?? '').origin, 'http://fhir4.eclinicalworks.com')
  const pages = await collect(pageSearch(client, ctx, { id: 'Observation:laboratory', type: 'Observation', params: { patient: sandbox.patientId, category: 'laboratory', _count: '10' } }))
  t.equal(pages.error, undefined)
  t.same(pages.pages.map((p) => p.resources.length), [10, 10, 10])
  t.same(pages.pages.map((p) => p.total), [30, 30, 30])
  t.ok(sandbox.counters().requestLog.every((r) => r.host === new URL(sandbox.origin).host))
})

t.test('a next link back to a page already read stops the search with HEALOW_ERR_PAGING', async (t) => {
  const { sandbox, ctx } = await useSandboxContext(t, { faults: { nextLinkLoop: true } })
  const client = await useClient(t)
  const search: PlannedSearch = { id: 'Observation:laboratory', type: 'Observation', params: { patient: sandbox.patientId, category: 'laboratory', _count: '10' } }
  const { pages, error } = await collect(pageSearch(client, ctx, search))
  t.ok(error instanceof PagingError)
  t.equal((error as PagingError).code, 'HEALOW_ERR_PAGING')
  t.equal((error as PagingError).reason, 'cycle')
  t.equal((error as PagingError).pages, 3)
  // Page 1 (no offset), page 2 (offset 10), page 3 (offset 0 again), whose next is page 2's link.
  t.equal(pages.length, 3, 'what was fetched was yielded')
  t.equal(sandbox.counters().requests, 3, 'no request after the cycle')
  t.equal(sandbox.counters().faults.loop, 1)
})

t.test('the page cap stops runaway paging after yielding maxPages pages', async (t) => {
  const { sandbox, ctx } = await useSandboxContext(t)
  const client = await useClient(t)
  const search: PlannedSearch = { id: 'Condition', type: 'Condition', params: { patient: sandbox.patientId, _count: '5' } }
  const { pages, error } = await collect(pageSearch(client, ctx, search, { maxPages: 2 }))
  t.equal((error as PagingError).reason, 'max-pages')
  t.equal(pages.length, 2)
  t.equal(sandbox.counters().requests, 2)
  t.equal(DEFAULT_MAX_PAGES, 2000)
  const full = await collect(pageSearch(client, ctx, search, { maxPages: 6 }))
  t.equal(full.error, undefined, 'a cap equal to the page count is not an error (27 conditions, 6 pages of 5)')
  t.equal(full.pages.length, 6)
  await t.rejects(collect(pageSearch(client, ctx, search, { maxPages: 0 })).then((r) => { if (r.error !== undefined) throw r.error }), RangeError)
})

t.test('links leaving the base are refused; entries without type or id and outcomes are skipped', async (t) => {
  const server = await useServer(t, (path) => {
    if (path.startsWith('/fhir/r4/SANDBX/Condition')) {
      return {
        resourceType: 'Bundle',
        total: 3,
        link: [{ relation: 'next', url: 'http://fhir4.eclinicalworks.com/fhir/r4/OTHER/Condition?page=2' }],
        entry: [
          { resource: { resourceType: 'Condition', id: 'c1' }, search: { mode: 'match' } },
          { resource: { resourceType: 'OperationOutcome', id: 'oo', issue: [] }, search: { mode: 'outcome' } },
          { resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning' }] } },
          { resource: { resourceType: 'Condition' } },
          { resource: { id: 'x' } },
          { resource: 'text' },
          null,
          { fullUrl: 'no resource' },
          { resource: { resourceType: 'Condition', id: 'c2' } }
        ]
      }
    }
    return { resourceType: 'OperationOutcome', issue: [] }
  })
  const client = await useClient(t)
  const ctx = { practiceId: 'SANDBX', baseUrl: `${server.origin}/fhir/r4/SANDBX`, getAccessToken: async () => 'token', onUnauthorized: async () => 'token' }
  const refused = await collect(pageSearch(client, ctx, { id: 'Condition', type: 'Condition', params: { patient: 'p' } }))
  t.equal((refused.error as PagingError).reason, 'refused-link')
  t.same(refused.pages.map((p) => p.resources.map((r) => r.id)), [['c1', 'c2']])
  t.equal(refused.pages[0]?.total, 3)
  t.same(server.seen, ['/fhir/r4/SANDBX/Condition?patient=p'], 'the refused link was not requested')

  const notBundle = await collect(pageSearch(client, ctx, { id: 'Goal', type: 'Goal', params: { patient: 'p' } }))
  t.equal((notBundle.error as PagingError).reason, 'not-a-bundle')
  t.equal(notBundle.pages.length, 0)
})

t.test('the Goal quirk (total 50, no entries) is one empty page, not an error', async (t) => {
  const { sandbox, ctx } = await useSandboxContext(t, { faults: { goalQuirk: true } })
  const client = await useClient(t)
  const { pages, error } = await collect(pageSearch(client, ctx, { id: 'Goal', type: 'Goal', params: { patient: sandbox.patientId, _count: '50' } }))
  t.equal(error, undefined)
  t.same(pages.map((p) => [p.resources.length, p.total]), [[0, 50]])
})
