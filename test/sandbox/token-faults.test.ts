import t from 'tap'
import { createRemoteJWKSet, jwtVerify, errors } from 'jose'
import type { IdTokenFault } from '../../sandbox/index.js'
import { REDIRECT_URI, basicOf, pkcePair, postToken, signIn, useSandbox } from './helpers.js'

t.test('token endpoint faults: 500, then a hang the client must time out', async (t) => {
  const sandbox = await useSandbox(t, { faults: { tokenEndpoint: 'error' } })
  const tokens = await sandbox.issueTokens()
  const failed = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) }, basicOf(sandbox))
  t.equal(failed.status, 500)
  t.equal(failed.body.error, 'server_error')

  sandbox.setFaults({ tokenEndpoint: 'hang' })
  const hung = await fetch(sandbox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=refresh_token',
    signal: AbortSignal.timeout(300)
  }).then(() => 'answered', (err: Error) => err.name)
  t.equal(hung, 'TimeoutError')

  sandbox.setFaults({})
  const ok = await postToken(sandbox, { grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) }, basicOf(sandbox))
  t.equal(ok.status, 200, 'the refresh token was not spent by the failed attempts')
  const counters = sandbox.counters()
  t.equal(counters.faults.tokenError, 1)
  t.equal(counters.faults.tokenHang, 1)
})

/** Each id_token fault, and how a correct verifier notices it. */
const ID_TOKEN_FAULTS: Array<[IdTokenFault, string, string | undefined]> = [
  ['foreign-key', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', undefined],
  ['wrong-aud', 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud'],
  ['wrong-iss', 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'iss'],
  ['expired', 'ERR_JWT_EXPIRED', 'exp']
]

t.test('id_token faults are caught by signature, aud, iss and exp checks', async (t) => {
  const sandbox = await useSandbox(t)
  const jwks = createRemoteJWKSet(new URL(sandbox.jwksUrl))
  for (const [fault, code, claim] of ID_TOKEN_FAULTS) {
    sandbox.setFaults({ idToken: fault })
    const { verifier, challenge } = pkcePair()
    const cb = await signIn(sandbox, { clientId: sandbox.clientId, challenge, nonce: 'n' })
    const token = await postToken(sandbox, { grant_type: 'authorization_code', code: cb.get('code') ?? '', redirect_uri: REDIRECT_URI, code_verifier: verifier }, basicOf(sandbox))
    t.equal(token.status, 200, `${fault}: the token response itself looks fine`)
    const err = await jwtVerify(String(token.body.id_token), jwks, { issuer: sandbox.issuer, audience: sandbox.clientId }).then(() => undefined, (e: errors.JOSEError) => e)
    t.equal(err?.code, code, fault)
    if (claim !== undefined) t.equal((err as errors.JWTClaimValidationFailed).claim, claim)
  }
})

t.test('the wrong-nonce fault passes the signature but not the nonce comparison', async (t) => {
  const sandbox = await useSandbox(t, { faults: { idToken: 'wrong-nonce' } })
  const { verifier, challenge } = pkcePair()
  const cb = await signIn(sandbox, { clientId: sandbox.clientId, challenge, nonce: 'expected-nonce' })
  const token = await postToken(sandbox, { grant_type: 'authorization_code', code: cb.get('code') ?? '', redirect_uri: REDIRECT_URI, code_verifier: verifier }, basicOf(sandbox))
  const { payload } = await jwtVerify(String(token.body.id_token), createRemoteJWKSet(new URL(sandbox.jwksUrl)), { issuer: sandbox.issuer, audience: sandbox.clientId })
  t.type(payload.nonce, 'string')
  t.not(payload.nonce, 'expected-nonce')
})
