import t from 'tap'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { REDIRECT_URI, authorizeUrl, basicOf, fhirGet, parseConsent, pkcePair, postToken, submitConsent, useSandbox } from './helpers.js'

t.test('confidential client: authorize, consent, code, Basic token exchange, id_token, Patient read', async (t) => {
  const sandbox = await useSandbox(t)
  const { verifier, challenge } = pkcePair()
  const second = sandbox.patients[1]
  if (second === undefined) throw new Error('three patients expected')

  const page = await fetch(authorizeUrl(sandbox, { clientId: sandbox.clientId, challenge, nonce: 'nonce-abc', state: 'st<1>' }), { redirect: 'manual' })
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  t.equal(page.headers.get('x-frame-options'), 'DENY')
  const html = await page.text()
  const consent = parseConsent(html)
  t.equal(consent.action, '/oauth/oauth2/authorize/decision')
  t.same(consent.patients.map((p) => p.label), sandbox.patients.map((p) => `Sign in as ${p.name.replace("'", '&#39;')}`))
  t.match(html, /<button class="deny" type="submit" name="decision" value="deny">Deny<\/button>/)

  // Sign in as the second patient: the token must be bound to that one.
  const { status, location } = await submitConsent(sandbox, { request: consent.formToken, patient: second.id })
  t.equal(status, 302)
  const callback = new URL(location)
  t.equal(callback.origin + callback.pathname, REDIRECT_URI)
  t.equal(callback.searchParams.get('state'), 'st<1>')
  const code = callback.searchParams.get('code') ?? ''
  t.match(code, /^[A-Za-z0-9_-]{43}$/)

  const token = await postToken(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, basicOf(sandbox))
  t.equal(token.status, 200)
  t.equal(token.headers.get('cache-control'), 'no-store')
  t.equal(token.body.token_type, 'Bearer')
  t.equal(token.body.expires_in, 3600)
  t.equal(token.body.patient, second.id)
  t.equal(token.body.scope, 'openid fhirUser launch/patient offline_access patient/Patient.read patient/Observation.read')
  t.type(token.body.refresh_token, 'string')

  const jwks = createRemoteJWKSet(new URL(sandbox.jwksUrl))
  const { payload, protectedHeader } = await jwtVerify(String(token.body.id_token), jwks, { issuer: sandbox.issuer, audience: sandbox.clientId })
  t.equal(protectedHeader.alg, 'RS256')
  t.equal(payload.nonce, 'nonce-abc')
  t.equal(payload.fhirUser, `${sandbox.fhirBaseUrl}/Patient/${second.id}`)
  t.type(payload.sub, 'string')

  const read = await fhirGet(sandbox, String(token.body.access_token), `/Patient/${second.id}`)
  t.equal(read.status, 200)
  t.equal(read.body.id, second.id)
  t.equal(read.body.name[0].text, second.name)
  t.equal(read.headers.get('content-type'), 'application/json+fhir;charset=UTF-8')

  const reuse = await postToken(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, basicOf(sandbox))
  t.equal(reuse.status, 400, 'a code is single use')
  t.equal(reuse.body.error, 'invalid_grant')
})

t.test('public client: client_id in the body, no secret, no refresh token', async (t) => {
  const sandbox = await useSandbox(t)
  const { verifier, challenge } = pkcePair()
  const page = await fetch(authorizeUrl(sandbox, { clientId: sandbox.publicClientId, challenge, nonce: 'n-2' }), { redirect: 'manual' })
  const consent = parseConsent(await page.text())
  const { location } = await submitConsent(sandbox, { request: consent.formToken, patient: sandbox.patientId })
  const code = new URL(location).searchParams.get('code') ?? ''

  const token = await postToken(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, client_id: sandbox.publicClientId })
  t.equal(token.status, 200)
  t.equal(token.body.refresh_token, undefined)
  t.notMatch(String(token.body.scope), /offline_access/)
  t.equal(token.body.patient, sandbox.patientId)

  const { payload } = await jwtVerify(String(token.body.id_token), createRemoteJWKSet(new URL(sandbox.jwksUrl)), { issuer: sandbox.issuer, audience: sandbox.publicClientId })
  t.equal(payload.nonce, 'n-2')
  t.equal(payload.fhirUser, `${sandbox.fhirBaseUrl}/Patient/${sandbox.patientId}`)

  const read = await fhirGet(sandbox, String(token.body.access_token), `/Patient/${sandbox.patientId}`)
  t.equal(read.status, 200)
  t.equal(read.body.resourceType, 'Patient')
})

t.test('deny on the consent page redirects with access_denied; a form token works once', async (t) => {
  const sandbox = await useSandbox(t)
  const page = await fetch(authorizeUrl(sandbox, { clientId: sandbox.clientId, state: 's-deny' }), { redirect: 'manual' })
  const consent = parseConsent(await page.text())
  const denied = await submitConsent(sandbox, { request: consent.formToken, decision: 'deny' })
  t.equal(denied.status, 302)
  const params = new URL(denied.location).searchParams
  t.equal(params.get('error'), 'access_denied')
  t.equal(params.get('state'), 's-deny')
  t.equal(params.get('code'), null)

  const replay = await submitConsent(sandbox, { request: consent.formToken, patient: sandbox.patientId })
  t.equal(replay.status, 400)
  t.equal(replay.location, '')
})

t.test('autoApprove answers authorize with a code for the first patient', async (t) => {
  const sandbox = await useSandbox(t, { autoApprove: true })
  const { verifier, challenge } = pkcePair()
  const res = await fetch(authorizeUrl(sandbox, { clientId: sandbox.clientId, challenge, state: 'auto' }), { redirect: 'manual' })
  t.equal(res.status, 302)
  const params = new URL(res.headers.get('location') ?? '').searchParams
  t.equal(params.get('state'), 'auto')
  const token = await postToken(sandbox, { grant_type: 'authorization_code', code: params.get('code') ?? '', redirect_uri: REDIRECT_URI, code_verifier: verifier }, basicOf(sandbox))
  t.equal(token.status, 200)
  t.equal(token.body.patient, sandbox.patientId)
  t.same(sandbox.counters().tokenGrants, { authorization_code: 1 })
})

t.test('patient names are escaped in the consent page', async (t) => {
  // Seed chosen so that a patient named O'Brien appears among twelve.
  const sandbox = await useSandbox(t, { patients: 12 })
  const html = await (await fetch(authorizeUrl(sandbox, { clientId: sandbox.clientId }), { redirect: 'manual' })).text()
  const irish = sandbox.patients.find((p) => p.name.includes("'"))
  t.ok(irish, 'a name with an apostrophe exists')
  t.match(html, `Sign in as ${irish?.name.replace("'", '&#39;') ?? ''}`)
  t.notMatch(html, /O'Brien/)
})
