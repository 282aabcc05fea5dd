import t from 'tap'
import { searchUrl } from '../../core/fhir-paging.js'
import { SEARCHED_TYPES } from '../../core/resource-types.js'
import { CARE_PLAN_CATEGORIES, CARE_TEAM_STATUSES, OBSERVATION_CATEGORIES, buildSearchPlan } from '../../core/search-plan.js'
import * as sandboxCatalog from '../../sandbox/index.js'
import { useFhirClient, useSandboxContext } from '../helpers/fhir.js'

t.test('the plan: Patient by _id, partitioned types split, the rest by patient with _count', async (t) => {
  const plan = buildSearchPlan('pat-1')
  t.equal(plan.length, 1 + 10 + 5 + 1 + 10)
  t.same(plan[0], { id: 'Patient', type: 'Patient', params: { _id: 'pat-1' } })
  t.same(plan.filter((s) => s.type === 'Observation').map((s) => s.id), OBSERVATION_CATEGORIES.map((c) => `Observation:${c}`))
  t.same(plan.find((s) => s.id === 'Observation:vital-signs')?.params, { patient: 'pat-1', category: 'vital-signs', _count: '50' })
  t.same(plan.filter((s) => s.type === 'CareTeam').map((s) => s.params.status), [...CARE_TEAM_STATUSES])
  t.same(plan.filter((s) => s.type === 'CarePlan').map((s) => s.params), [{ patient: 'pat-1', category: 'assess-plan', _count: '50' }])
  t.same(plan.find((s) => s.id === 'Condition'), { id: 'Condition', type: 'Condition', params: { patient: 'pat-1', _count: '50' } })
  t.equal(new Set(plan.map((s) => s.id)).size, plan.length, 'ids are unique')
  t.same([...new Set(plan.map((s) => s.type))].sort(), [...SEARCHED_TYPES].sort(), 'every searched type is covered')
  t.notOk(plan.some((s) => (s.type as string) === 'Provenance'), 'never Provenance')
  t.notOk(plan.some((s) => '_lastUpdated' in s.params), 'never _lastUpdated')
  t.ok(plan.filter((s) => s.type !== 'Patient').every((s) => s.params.patient === 'pat-1' && s.params._count === '50'))
  t.same(CARE_PLAN_CATEGORIES, ['assess-plan'])
})

t.test('the count option, and bad input', async (t) => {
  t.ok(buildSearchPlan('p', { count: 200 }).filter((s) => s.type !== 'Patient').every((s) => s.params._count === '200'))
  for (const count of [0, -1, 1.5, 1001, Number.NaN]) t.throws(() => buildSearchPlan('p', { count }), RangeError, `count ${count}`)
  t.throws(() => buildSearchPlan(''), RangeError)
})

t.test('the lists agree with the sandbox practice', async (t) => {
  t.same(OBSERVATION_CATEGORIES, [...sandboxCatalog.OBSERVATION_CATEGORIES])
  t.same(CARE_TEAM_STATUSES, [...sandboxCatalog.CARE_TEAM_STATUSES])
  t.same(CARE_PLAN_CATEGORIES, [sandboxCatalog.CARE_PLAN_CATEGORY])
})

t.test('every planned search is accepted by the sandbox: no 400, every type served', async (t) => {
  const { sandbox, ctx } = await useSandboxContext(t)
  const { client } = await useFhirClient(t, { limitPerMinute: 200 })
  const plan = buildSearchPlan(sandbox.patientId)
  for (const search of plan) {
    const { status, body } = await client.getJson(ctx, searchUrl(sandbox.fhirBaseUrl, search))
    t.equal(status, 200, search.id)
    t.equal((body as { resourceType: string }).resourceType, 'Bundle', search.id)
  }
  const counters = sandbox.counters()
  t.same(Object.keys(counters.byStatus), ['200'], 'only 200s')
  t.equal(counters.byStatus['200'], plan.length)
  t.same(Object.keys(counters.byType).sort(), [...SEARCHED_TYPES].sort())
})
