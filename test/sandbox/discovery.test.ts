import t from 'tap'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { fhirGet, useSandbox } from './helpers.js'

t.test('smart-configuration names the endpoints, Basic auth and S256, like Healow', async (t) => {
  const sandbox = await useSandbox(t)
  const res = await fetch(`${sandbox.fhirBaseUrl}/.well-known/smart-configuration`)
  t.equal(res.status, 200)
  const config = await res.json() as Record<string, any>
  t.equal(config.issuer, sandbox.issuer)
  t.equal(config.authorization_endpoint, sandbox.authorizeUrl)
  t.equal(config.token_endpoint, sandbox.tokenUrl)
  t.equal(config.jwks_uri, sandbox.jwksUrl)
  t.same(config.token_endpoint_auth_methods_supported, ['client_secret_basic'])
  t.same(config.code_challenge_methods_supported, ['S256'])
  t.ok(config.scopes_supported.includes('offline_access'))
  t.ok(config.scopes_supported.includes('patient/Observation.read'))
  t.ok(config.capabilities.includes('client-confidential-symmetric'))
  t.match(sandbox.authorizeUrl, /\/oauth\/oauth2\/authorize$/)

  const openid = await (await fetch(`${sandbox.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>
  t.equal(openid.issuer, sandbox.issuer, 'the issuer is discoverable where it says')
  t.same(openid.id_token_signing_alg_values_supported, ['RS256'])
})

t.test('the CapabilityStatement carries oauth-uris and no _lastUpdated', async (t) => {
  const sandbox = await useSandbox(t)
  const { status, body, headers } = await fhirGet(sandbox, undefined, '/metadata')
  t.equal(status, 200)
  t.equal(headers.get('content-type'), 'application/json+fhir;charset=UTF-8')
  t.equal(body.resourceType, 'CapabilityStatement')
  t.equal(body.fhirVersion, '4.0.1')
  const security = body.rest[0].security.extension[0]
  t.equal(security.url, 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris')
  t.same(security.extension, [{ url: 'authorize', valueUri: sandbox.authorizeUrl }, { url: 'token', valueUri: sandbox.tokenUrl }])
  const params = body.rest[0].resource.flatMap((r: { searchParam: Array<{ name: string }> }) => r.searchParam.map((p) => p.name))
  t.notOk(params.includes('_lastUpdated'))
  const observation = body.rest[0].resource.find((r: { type: string }) => r.type === 'Observation')
  t.same(observation.searchParam.map((p: { name: string }) => p.name), ['patient', 'category'])
  const provenance = body.rest[0].resource.find((r: { type: string }) => r.type === 'Provenance')
  t.same(provenance.searchParam, [{ name: '_id', type: 'token' }])
})

t.test('the JWKS publishes the key with its kid, and it verifies issued id_tokens', async (t) => {
  const sandbox = await useSandbox(t)
  const jwks = await (await fetch(sandbox.jwksUrl)).json() as { keys: Array<Record<string, string>> }
  t.equal(jwks.keys.length, 1)
  const [key] = jwks.keys
  t.equal(key?.kty, 'RSA')
  t.equal(key?.alg, 'RS256')
  t.equal(key?.use, 'sig')
  t.type(key?.kid, 'string')
  t.equal(key?.d, undefined, 'no private part')
  const tokens = await sandbox.issueTokens({ nonce: 'x' })
  const { protectedHeader, payload } = await jwtVerify(tokens.id_token ?? '', createRemoteJWKSet(new URL(sandbox.jwksUrl)), { issuer: sandbox.issuer, audience: sandbox.clientId })
  t.equal(protectedHeader.kid, key?.kid)
  t.equal(payload.nonce, 'x')
  t.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600)
})

t.test('the root page lists the practice for newcomers; unknown paths are 404', async (t) => {
  const sandbox = await useSandbox(t)
  const root = await (await fetch(sandbox.origin)).json() as Record<string, unknown>
  t.equal(root.fhirBaseUrl, sandbox.fhirBaseUrl)
  t.same(root.patients, sandbox.patients)
  const missing = await fetch(`${sandbox.origin}/nowhere?x=1`)
  t.equal(missing.status, 404)
  t.match(await missing.text(), /Unknown path \/nowhere"/)
})
