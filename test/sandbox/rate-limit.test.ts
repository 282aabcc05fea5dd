import t from 'tap'
import { authorizeUrl, fhirGet, useSandbox } from './helpers.js'

t.test('over the limit in a calendar minute: 429 without Retry-After until the next minute', async (t) => {
  let clock = Date.UTC(2025, 0, 6, 10, 15, 5)
  const sandbox = await useSandbox(t, { rateLimit: 20, now: () => clock })
  const { access_token: token } = await sandbox.issueTokens()
  const path = `/Condition?patient=${sandbox.patientId}`

  const statuses: number[] = []
  for (let i = 0; i < 18; i++) statuses.push((await fhirGet(sandbox, token, path)).status)
  // Authorize and token calls count against the same practice budget.
  statuses.push((await fetch(authorizeUrl(sandbox, { clientId: sandbox.clientId }), { redirect: 'manual' })).status)
  statuses.push((await fetch(sandbox.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token' })).status)
  t.same(statuses.slice(0, 18), Array(18).fill(200))
  t.equal(statuses[18], 200, 'authorize is call 19')
  t.equal(statuses[19], 401, 'token is call 20 (an unauthenticated client, but admitted)')

  clock += 50_000 // 10:15:55, same minute
  for (const target of [sandbox.fhirBaseUrl + path, sandbox.tokenUrl, authorizeUrl(sandbox, { clientId: sandbox.clientId })]) {
    const res = await fetch(target, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' })
    t.equal(res.status, 429, `${new URL(target).pathname} is locked out`)
    t.equal(res.headers.get('retry-after'), null, 'no Retry-After, as at Healow')
    const body = await res.json() as { resourceType: string }
    t.equal(body.resourceType, 'OperationOutcome')
  }

  const counters = sandbox.counters()
  t.equal(counters.rateLimited, 3)
  t.equal(counters.busiestMinute, 23)
  t.same(counters.byMinute, { [String(Math.floor(clock / 60_000))]: 23 })
  t.equal(counters.byStatus['429'], 3)

  clock += 5_000 // 10:16:00, a new calendar minute
  t.equal((await fhirGet(sandbox, token, path)).status, 200, 'the next minute starts afresh')
  t.equal(sandbox.counters().busiestMinute, 23)
})

t.test('rateLimit 0 turns the limit off', async (t) => {
  const sandbox = await useSandbox(t, { rateLimit: 0 })
  const { access_token: token } = await sandbox.issueTokens()
  for (let i = 0; i < 30; i++) await fhirGet(sandbox, token, `/Patient/${sandbox.patientId}`)
  t.equal(sandbox.counters().rateLimited, 0)
  t.equal(sandbox.counters().byStatus['200'], 30)
})
