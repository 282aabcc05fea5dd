import t from 'tap'
import { basicOf, fhirGet, postToken, useSandbox } from './helpers.js'

t.test('refresh tokens rotate and work once; a reuse is invalid_grant and counted', async (t) => {
  const sandbox = await useSandbox(t)
  const first = await sandbox.issueTokens()
  const r1 = String(first.refresh_token)

  const second = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: r1 }, basicOf(sandbox))
  t.equal(second.status, 200)
  const r2 = String(second.body.refresh_token)
  t.not(r2, r1, 'a new refresh token every time')
  t.not(second.body.access_token, first.access_token)
  t.equal(second.body.patient, sandbox.patientId)
  t.equal(second.body.scope, first.scope)
  t.equal((await fhirGet(sandbox, String(second.body.access_token), `/Patient/${sandbox.patientId}`)).status, 200)

  const reuse = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: r1 }, basicOf(sandbox))
  t.equal(reuse.status, 400)
  t.equal(reuse.body.error, 'invalid_grant')
  t.equal(sandbox.counters().refreshReuse, 1)

  const third = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: r2 }, basicOf(sandbox))
  t.equal(third.status, 200, 'the rotated token still works after a reuse of the old one')
  t.same(sandbox.counters().tokenGrants, { refresh_token: 2 })
})

t.test('refresh needs the confidential client, a known token, and may only narrow the scope', async (t) => {
  const sandbox = await useSandbox(t)
  const tokens = await sandbox.issueTokens()
  const refresh = String(tokens.refresh_token)

  const asPublic = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: refresh, client_id: sandbox.publicClientId })
  t.equal(asPublic.status, 400)
  t.equal(asPublic.body.error, 'unauthorized_client')

  const unknown = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: 'nope' }, basicOf(sandbox))
  t.equal(unknown.body.error, 'invalid_grant')

  const widened = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: refresh, scope: 'patient/*.read' }, basicOf(sandbox))
  t.equal(widened.body.error, 'invalid_scope')

  const fresh = await sandbox.issueTokens()
  const narrowed = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: String(fresh.refresh_token), scope: 'patient/Patient.read offline_access' }, basicOf(sandbox))
  t.equal(narrowed.status, 200)
  t.equal(narrowed.body.scope, 'patient/Patient.read offline_access')
  t.equal(narrowed.body.id_token, undefined, 'no openid, no id_token')
  const obs = await fhirGet(sandbox, String(narrowed.body.access_token), `/Observation?patient=${sandbox.patientId}&category=laboratory`)
  t.equal(obs.status, 403)
})

t.test('access tokens expire after the configured lifetime', async (t) => {
  let clock = Date.UTC(2025, 0, 6, 10, 0, 0)
  const sandbox = await useSandbox(t, { tokenTtlSeconds: 5, now: () => clock })
  const tokens = await sandbox.issueTokens()
  t.equal(tokens.expires_in, 5)
  t.equal((await fhirGet(sandbox, tokens.access_token, `/Patient/${sandbox.patientId}`)).status, 200)
  clock += 5_000
  const expired = await fhirGet(sandbox, tokens.access_token, `/Patient/${sandbox.patientId}`)
  t.equal(expired.status, 401)
  t.equal(expired.headers.get('www-authenticate'), 'Bearer error="invalid_token"')
  const refreshed = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) }, basicOf(sandbox))
  t.equal(refreshed.status, 200, 'the refresh token outlives the access token')
})
