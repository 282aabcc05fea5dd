import t from 'tap'
import { request } from 'undici'
import { fhirGet, rebase, useSandbox } from './helpers.js'

t.test('failRate 0.25 answers every fourth FHIR request with 503; discovery is spared', async (t) => {
  const sandbox = await useSandbox(t, { faults: { failRate: 0.25 } })
  const { access_token: token } = await sandbox.issueTokens()
  const statuses = []
  for (let i = 0; i < 8; i++) statuses.push((await fhirGet(sandbox, token, `/Patient/${sandbox.patientId}`)).status)
  t.same(statuses, [200, 200, 200, 503, 200, 200, 200, 503])
  t.equal((await fhirGet(sandbox, undefined, '/metadata')).status, 200)
  t.equal((await fhirGet(sandbox, undefined, '/.well-known/smart-configuration')).status, 200)
  const failed = await fhirGet(sandbox, token, `/Patient/${sandbox.patientId}`)
  t.equal(failed.status, 200, 'request 9')
  t.equal(sandbox.counters().faults.unavailable, 2)

  sandbox.setFaults({ failRate: 1 })
  const outage = await fhirGet(sandbox, undefined, `/Patient/${sandbox.patientId}`)
  t.equal(outage.status, 503, 'an outage comes before the token check')
  t.equal(outage.body.issue[0].code, 'transient')
  sandbox.setFaults({})
  t.equal((await fhirGet(sandbox, token, `/Patient/${sandbox.patientId}`)).status, 200, 'setFaults({}) clears')
})

t.test('resetRate resets the connection before any byte', async (t) => {
  const sandbox = await useSandbox(t, { faults: { resetRate: 0.5 } })
  const { access_token: token } = await sandbox.issueTokens()
  const outcomes: string[] = []
  for (let i = 0; i < 4; i++) {
    try {
      outcomes.push(String((await fhirGet(sandbox, token, `/Patient/${sandbox.patientId}`)).status))
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      outcomes.push(cause?.code ?? 'error')
    }
  }
  t.equal(outcomes[0], '200')
  t.equal(outcomes[2], '200')
  t.match(outcomes[1], /^(ECONNRESET|UND_ERR_SOCKET)$/)
  t.match(outcomes[3], /^(ECONNRESET|UND_ERR_SOCKET)$/)
  const counters = sandbox.counters()
  t.equal(counters.faults.reset, 2)
  t.equal(counters.byStatus.none, 2)
})

t.test('stallRate sends headers and half a body, then nothing', async (t) => {
  const sandbox = await useSandbox(t, { faults: { stallRate: 1 } })
  const { access_token: token } = await sandbox.issueTokens()
  const res = await request(`${sandbox.fhirBaseUrl}/Condition?patient=${sandbox.patientId}`, {
    headers: { authorization: `Bearer ${token}` },
    bodyTimeout: 300
  })
  t.equal(res.statusCode, 200)
  const length = Number(res.headers['content-length'])
  let received = 0
  const error = await (async () => {
    try {
      for await (const chunk of res.body) received += (chunk as Buffer).length
    } catch (err) {
      return err as { code?: string }
    }
  })()
  t.equal(error?.code, 'UND_ERR_BODY_TIMEOUT')
  t.equal(received, Math.floor(length / 2), 'exactly half of the announced body arrived')
  t.equal(sandbox.counters().faults.stall, 1)
})

t.test('malformedRate sends a complete response with broken JSON', async (t) => {
  const sandbox = await useSandbox(t, { faults: { malformedRate: 1 } })
  const { access_token: token } = await sandbox.issueTokens()
  const res = await fetch(`${sandbox.fhirBaseUrl}/Condition?patient=${sandbox.patientId}`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'application/json+fhir;charset=UTF-8')
  const text = await res.text()
  t.match(text, /^\{"resourceType":"Bundle"/)
  t.throws(() => JSON.parse(text), SyntaxError)
  t.equal(sandbox.counters().faults.malformed, 1)
})

t.test('nextLinkLoop points the second page back at the first', async (t) => {
  const sandbox = await useSandbox(t, { faults: { nextLinkLoop: true } })
  const { access_token: token } = await sandbox.issueTokens()
  const first = await fhirGet(sandbox, token, `/Condition?patient=${sandbox.patientId}&_count=10`)
  const next1 = first.body.link.find((l: { relation: string }) => l.relation === 'next').url as string
  t.equal(new URL(next1).searchParams.get('_offset'), '10')
  const second = await fhirGet(sandbox, token, rebase(next1, sandbox))
  t.equal(second.body.entry[0].resource.id, `${first.body.entry[0].resource.id.replace(/\.0$/, '')}.a`, 'the second page starts at index 10')
  const next2 = second.body.link.find((l: { relation: string }) => l.relation === 'next').url as string
  t.equal(new URL(next2).searchParams.get('_offset'), '0', 'back to the first page')
  const again = await fhirGet(sandbox, token, rebase(next2, sandbox))
  t.same(again.body.entry.map((e: { resource: { id: string } }) => e.resource.id), first.body.entry.map((e: { resource: { id: string } }) => e.resource.id))
  t.equal(sandbox.counters().faults.loop, 1)
})

t.test('latency is applied and counted; in-flight requests are counted', async (t) => {
  const sandbox = await useSandbox(t, { faults: { latencyMs: 100, latencyJitterMs: 10 } })
  const { access_token: token } = await sandbox.issueTokens()
  await Promise.all(Array.from({ length: 4 }, async () => await fhirGet(sandbox, token, `/Patient/${sandbox.patientId}`)))
  const counters = sandbox.counters()
  t.equal(counters.faults.latency, 4)
  t.equal(counters.maxInFlight, 4, 'four requests were held at once')
  t.equal(counters.inFlight, 0)
})
