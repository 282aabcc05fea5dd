import t from 'tap'
import { REDIRECT_URI, authorizeUrl, basicOf, fhirGet, pkcePair, postToken, signIn, useSandbox } from './helpers.js'

t.test('a missing, forged or unknown bearer token is 401', async (t) => {
  const sandbox = await useSandbox(t)
  const path = `/Patient/${sandbox.patientId}`
  for (const token of [undefined, 'forged-token', `${(await sandbox.issueTokens()).access_token}x`]) {
    const res = await fhirGet(sandbox, token, path)
    t.equal(res.status, 401)
    t.equal(res.body.resourceType, 'OperationOutcome')
    t.equal(res.body.issue[0].code, 'login')
  }
  const basic = await fetch(sandbox.fhirBaseUrl + path, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })
  t.equal(basic.status, 401)
})

t.test('aud must be the FHIR base exactly: a trailing slash is invalid_request', async (t) => {
  const sandbox = await useSandbox(t)
  for (const aud of [`${sandbox.fhirBaseUrl}/`, sandbox.fhirBaseUrl.toLowerCase().replace('sandbx', 'other1'), 'https://fhir4.healow.com/fhir/r4/SANDBX']) {
    const res = await fetch(authorizeUrl(sandbox, { clientId: sandbox.clientId, aud, state: 'aud-state' }), { redirect: 'manual' })
    t.equal(res.status, 302, aud)
    const params = new URL(res.headers.get('location') ?? '').searchParams
    t.equal(params.get('error'), 'invalid_request')
    t.equal(params.get('state'), 'aud-state')
    t.equal(params.get('code'), null)
  }
})

t.test('authorize refuses bad requests; unknown clients and redirect URIs get no redirect', async (t) => {
  const sandbox = await useSandbox(t, { redirectUris: [REDIRECT_URI] })
  const refused = async (extra: Record<string, string>, clientId = sandbox.clientId): Promise<Response> =>
    await fetch(authorizeUrl(sandbox, { clientId, extra }), { redirect: 'manual' })
  for (const [extra, clientId] of [[{}, 'someone-else'], [{ redirect_uri: 'https://evil.example/cb' }, sandbox.clientId]] as const) {
    const res = await refused(extra, clientId)
    t.equal(res.status, 400)
    t.equal(res.headers.get('location'), null)
    t.match(await res.text(), /Sign-in request refused/)
  }
  const cases: Array<[Record<string, string>, string]> = [
    [{ code_challenge_method: 'plain' }, 'invalid_request'],
    [{ code_challenge: '' }, 'invalid_request'],
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ scope: 'something/else' }, 'invalid_scope'],
    [{ state: '' }, 'invalid_request']
  ]
  for (const [extra, error] of cases) {
    const res = await refused(extra)
    t.equal(res.status, 302, JSON.stringify(extra))
    t.equal(new URL(res.headers.get('location') ?? '').searchParams.get('error'), error)
  }
  const twice = await fetch(authorizeUrl(sandbox, { clientId: sandbox.clientId }) + '&state=again', { redirect: 'manual' })
  t.equal(twice.status, 400, 'a repeated parameter is refused')
})

t.test('by default any https or loopback http redirect URI is accepted, nothing else', async (t) => {
  const sandbox = await useSandbox(t)
  const status = async (redirectUri: string): Promise<number> => (await fetch(authorizeUrl(sandbox, { clientId: sandbox.clientId, redirectUri }), { redirect: 'manual' })).status
  t.equal(await status('https://anything.example/cb'), 200)
  t.equal(await status('http://127.0.0.1:3000/healow/callback'), 200)
  t.equal(await status('http://localhost:3000/cb'), 200)
  t.equal(await status('http://app.example/cb'), 400)
  t.equal(await status('https://app.example/cb#frag'), 400)
})

t.test('PKCE verifier mismatch, wrong redirect_uri and wrong client are invalid_grant', async (t) => {
  const sandbox = await useSandbox(t)
  const { verifier, challenge } = pkcePair()
  const codeFor = async (clientId = sandbox.clientId): Promise<string> => (await signIn(sandbox, { clientId, challenge })).get('code') ?? ''
  const exchange = async (code: string, overrides: Record<string, string>, basic = true): Promise<Record<string, unknown>> =>
    (await postToken(sandbox, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, ...overrides }, basic ? basicOf(sandbox) : undefined)).body
  t.equal((await exchange(await codeFor(), { code_verifier: pkcePair().verifier })).error, 'invalid_grant')
  t.equal((await exchange(await codeFor(), { redirect_uri: 'https://app.example.org/other' })).error, 'invalid_grant')
  t.equal((await exchange(await codeFor(sandbox.publicClientId), {})).error, 'invalid_grant', 'a public client code cannot be redeemed by the confidential client')
  t.equal((await exchange('made-up-code', {})).error, 'invalid_grant')
})

t.test('the confidential client must use HTTP Basic: otherwise invalid_client', async (t) => {
  const sandbox = await useSandbox(t)
  const { verifier, challenge } = pkcePair()
  const code = (await signIn(sandbox, { clientId: sandbox.clientId, challenge })).get('code') ?? ''
  const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }

  const noAuth = await postToken(sandbox, { ...form, client_id: sandbox.clientId })
  t.equal(noAuth.status, 401)
  t.equal(noAuth.body.error, 'invalid_client')
  const inBody = await postToken(sandbox, { ...form, client_id: sandbox.clientId, client_secret: sandbox.clientSecret })
  t.equal(inBody.status, 401)
  t.equal(inBody.body.error, 'invalid_client', 'client_secret_post is refused')
  const wrong = await postToken(sandbox, form, { id: sandbox.clientId, secret: 'wrong' })
  t.equal(wrong.status, 401)
  t.equal(wrong.headers.get('www-authenticate'), 'Basic realm="sandbox"')
  const nobody = await postToken(sandbox, { ...form, client_id: 'stranger' })
  t.equal(nobody.body.error, 'invalid_client')
  const json = await fetch(sandbox.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(form) })
  t.equal(json.status, 400)
  const unsupported = await postToken(sandbox, { grant_type: 'password' }, basicOf(sandbox))
  t.equal(unsupported.body.error, 'unsupported_grant_type')

  const good = await postToken(sandbox, form, basicOf(sandbox))
  t.equal(good.status, 200, 'the code survived the refused attempts')
})

t.test("another patient's resources are 403; a missing scope is 403", async (t) => {
  const sandbox = await useSandbox(t)
  const other = sandbox.patients[1]?.id ?? ''
  const { access_token: token } = await sandbox.issueTokens()
  const { access_token: otherToken } = await sandbox.issueTokens({ patientId: other })
  const otherCondition = (await fhirGet(sandbox, otherToken, `/Condition?patient=${other}&_count=1`)).body.entry[0].resource.id

  for (const path of [`/Patient/${other}`, `/Patient?_id=${other}`, `/Condition?patient=${other}`, `/Condition/${otherCondition}`]) {
    const res = await fhirGet(sandbox, token, path)
    t.equal(res.status, 403, path)
    t.equal(res.body.issue[0].code, 'forbidden')
  }
  t.equal((await fhirGet(sandbox, otherToken, `/Condition/${otherCondition}`)).status, 200)

  const narrow = await sandbox.issueTokens({ scope: 'openid patient/Patient.read' })
  t.equal((await fhirGet(sandbox, narrow.access_token, `/Patient/${sandbox.patientId}`)).status, 200)
  const denied = await fhirGet(sandbox, narrow.access_token, `/Condition?patient=${sandbox.patientId}`)
  t.equal(denied.status, 403)
  t.match(denied.body.issue[0].diagnostics, /no read scope for Condition/)
})

t.test('unknown ids and types are 404', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const condition = (await fhirGet(sandbox, token, `/Condition?patient=${sandbox.patientId}&_count=1`)).body.entry[0].resource.id as string
  const beyond = condition.replace(/\.[0-9a-z]+$/, '.zzzz')
  for (const path of [`/Condition/${beyond}`, '/Condition/not-an-id', `/Observation/${condition}`, '/Spaceship/1', '/Spaceship?patient=x']) {
    t.equal((await fhirGet(sandbox, token, path)).status, 404, path)
  }
  t.equal((await fhirGet(sandbox, token, '/Medication?patient=x')).status, 400, 'read-only types are not searchable')
  t.equal((await fetch(`${sandbox.origin}/fhir/r4/OTHER1/metadata`)).status, 404, 'another practice code')
})
