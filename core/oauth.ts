import * as oauth from 'oauth4webapi'
import { decodeJwt } from 'jose'
import { z } from 'zod'
import type { HealowConfig } from './config.js'
import type { Tenant } from './directory.js'
import {
  IdTokenError, OAuthRejectedError, ReauthRequiredError, UpstreamError, UpstreamTimeoutError, attachHidden
} from './errors.js'
import { isTimeoutError, type PracticeFetch } from './http.js'
import { isAllowedOrigin } from './net.js'
import { READ_TYPES } from './resource-types.js'

export const DISCOVERY_TTL_MS = 3_600_000
export const DISCOVERY_FAILURE_TTL_MS = 60_000
/** Healow issues access tokens for about an hour; used when `expires_in` is missing. */
export const DEFAULT_ACCESS_TOKEN_LIFETIME_S = 3600

/** Stands in for an issuer no discovery document named; replaced by the one the id_token proves. */
const UNKNOWN_ISSUER = 'urn:fastify-healow:issuer-not-discovered'

/**
 * The `iss` a callback carries (RFC 9207), accepted without discovery only
 * on the token endpoint's origin; otherwise the placeholder, which fails the check.
 */
function callbackIssuer (as: oauth.AuthorizationServer, callback: URLSearchParams): string {
  const iss = callback.get('iss')
  if (iss === null) return UNKNOWN_ISSUER
  try {
    return new URL(iss).origin === new URL(as.token_endpoint ?? '').origin ? iss : UNKNOWN_ISSUER
  } catch {
    return UNKNOWN_ISSUER
  }
}

/** The tokens of one connection; never logged, stored only encrypted. */
export interface TokenSet {
  accessToken: string
  refreshToken: string | undefined
  /** Epoch ms. */
  expiresAt: number
  /** When it was obtained (epoch ms): the lifetime decides how early to refresh. */
  obtainedAt: number
  scope: string
  patientId: string | undefined
}

export interface PendingAuthorization {
  state: string
  nonce: string
  codeVerifier: string
}

/** Scopes we ask for: identity, the patient context, a read scope per type, and refresh in confidential mode. */
export function buildScopes (confidential: boolean): string {
  const scopes = ['openid', 'fhirUser', 'launch/patient', ...READ_TYPES.map((t) => `patient/${t}.read`)]
  if (confidential) scopes.push('offline_access')
  return scopes.join(' ')
}

const smartConfigurationSchema = z.looseObject({
  issuer: z.string().optional(),
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
  jwks_uri: z.string().optional()
})

export interface OAuthClient {
  /** The practice's authorization server, from its smart-configuration (cached), else the directory entry. */
  discover (tenant: Tenant): Promise<oauth.AuthorizationServer>
  authorizationUrl (tenant: Tenant, pending: { state: string, nonce: string, codeChallenge: string }): Promise<URL>
  exchangeCode (tenant: Tenant, callback: URLSearchParams, pending: PendingAuthorization): Promise<TokenSet>
  refresh (tenant: Tenant, refreshToken: string): Promise<TokenSet>
}

/**
 * The OAuth steps, on oauth4webapi: it does the protocol checks (state, the
 * token response, the id_token's iss/aud/exp/nonce); we add the SMART
 * discovery, Healow's `aud` parameter and the signature check against the
 * practice's JWKS. Every call goes through the practice's shared budget.
 */
export function createOAuthClient (options: { config: HealowConfig, fetch: PracticeFetch }): OAuthClient {
  const { config, fetch } = options
  const allowHttp = config.allowLoopbackHttp
  const discovered = new Map<string, { at: number, ttl: number, as: oauth.AuthorizationServer }>()
  const jwksCaches = new Map<string, oauth.JWKSCacheInput>()
  const client: oauth.Client = { client_id: config.clientId ?? '' }
  const clientAuth = config.clientSecret !== undefined ? oauth.ClientSecretBasic(config.clientSecret) : oauth.None()

  // oauth4webapi's request options, with every call routed through the practice's budget.
  const httpOptions = (tenant: Tenant): { [oauth.customFetch]: (url: string, init: oauth.CustomFetchOptions<any, any>) => Promise<globalThis.Response>, [oauth.allowInsecureRequests]: boolean } => ({
    [oauth.customFetch]: async (url, init) => await fetch(tenant.id, url, init as never) as unknown as globalThis.Response,
    [oauth.allowInsecureRequests]: allowHttp
  })

  function checkedUrl (value: string, field: string): string {
    const url = new URL(value)
    if (!isAllowedOrigin(url, allowHttp)) throw new UpstreamError(`discovery gave a ${field} that is not https`)
    return url.href
  }

  function fallback (tenant: Tenant): oauth.AuthorizationServer {
    const as: oauth.AuthorizationServer = {
      // No discovery: the issuer is learnt from the id_token, held to the token endpoint's origin.
      issuer: UNKNOWN_ISSUER,
      authorization_endpoint: tenant.authorize,
      token_endpoint: tenant.token,
      jwks_uri: tenant.token.replace(/\/token$/, '/jwks')
    }
    return as
  }

  async function discover (tenant: Tenant): Promise<oauth.AuthorizationServer> {
    const cached = discovered.get(tenant.id)
    if (cached !== undefined && Date.now() - cached.at < cached.ttl) return cached.as
    let as: oauth.AuthorizationServer
    let ttl = DISCOVERY_TTL_MS
    try {
      const response = await fetch(tenant.id, `${tenant.url}/.well-known/smart-configuration`, { headers: { accept: 'application/json' } })
      if (!response.ok) throw new Error(`status ${response.status}`)
      const body = smartConfigurationSchema.parse(await response.json())
      as = {
        issuer: body.issuer ?? UNKNOWN_ISSUER,
        authorization_endpoint: checkedUrl(body.authorization_endpoint, 'authorization_endpoint'),
        token_endpoint: checkedUrl(body.token_endpoint, 'token_endpoint'),
        jwks_uri: body.jwks_uri !== undefined ? checkedUrl(body.jwks_uri, 'jwks_uri') : fallback(tenant).jwks_uri
      }
    } catch {
      as = fallback(tenant)
      ttl = DISCOVERY_FAILURE_TTL_MS
    }
    discovered.set(tenant.id, { at: Date.now(), ttl, as })
    return as
  }

  async function authorizationUrl (tenant: Tenant, pending: { state: string, nonce: string, codeChallenge: string }): Promise<URL> {
    const as = await discover(tenant)
    const url = new URL(as.authorization_endpoint ?? tenant.authorize)
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: config.redirectUri,
      scope: buildScopes(config.confidential),
      state: pending.state,
      nonce: pending.nonce,
      // Healow: `aud` is the practice's FHIR base exactly, without a trailing slash.
      aud: tenant.url,
      // PKCE S256 in both client modes.
      code_challenge: pending.codeChallenge,
      code_challenge_method: 'S256'
    }).toString()
    return url
  }

  async function exchangeCode (tenant: Tenant, callback: URLSearchParams, pending: PendingAuthorization): Promise<TokenSet> {
    let as = await discover(tenant)
    return await guard(async () => {
      const params = oauth.validateAuthResponse(as.issuer === UNKNOWN_ISSUER ? { ...as, issuer: callbackIssuer(as, callback) } : as, client, callback, pending.state)
      const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, config.redirectUri, pending.codeVerifier, httpOptions(tenant))
      as = await withIssuer(as, response)
      const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: pending.nonce, requireIdToken: true })
      await verifySignature(tenant, as, response)
      return toTokenSet(result, undefined)
    })
  }

  async function refresh (tenant: Tenant, refreshToken: string): Promise<TokenSet> {
    let as = await discover(tenant)
    return await guard(async () => {
      const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, httpOptions(tenant))
      as = await withIssuer(as, response)
      const result = await oauth.processRefreshTokenResponse(as, client, response)
      if (result.id_token !== undefined) await verifySignature(tenant, as, response)
      return toTokenSet(result, refreshToken)
    })
  }

  /** Without discovery, takes the id_token's `iss` only when it is on the token endpoint's origin. */
  async function withIssuer (as: oauth.AuthorizationServer, response: globalThis.Response): Promise<oauth.AuthorizationServer> {
    if (as.issuer !== UNKNOWN_ISSUER || !response.ok) return as
    const body = await response.clone().json().catch(() => ({})) as { id_token?: unknown }
    if (typeof body.id_token !== 'string') return as
    let iss: unknown
    try { iss = decodeJwt(body.id_token).iss } catch { throw new IdTokenError('not a JWT') }
    if (typeof iss !== 'string' || new URL(iss).origin !== new URL(as.token_endpoint ?? '').origin) {
      throw new IdTokenError('unexpected issuer')
    }
    return { ...as, issuer: iss }
  }

  async function verifySignature (tenant: Tenant, as: oauth.AuthorizationServer, response: globalThis.Response): Promise<void> {
    const cache = jwksCaches.get(tenant.id) ?? {}
    jwksCaches.set(tenant.id, cache)
    try {
      await oauth.validateApplicationLevelSignature(as, response, { ...httpOptions(tenant), [oauth.jwksCache]: cache })
    } catch (err) {
      throw attachHidden(new IdTokenError('signature does not verify against the practice JWKS'), 'cause', err)
    }
  }

  return { discover, authorizationUrl, exchangeCode, refresh }
}

function toTokenSet (result: oauth.TokenEndpointResponse, previousRefreshToken: string | undefined): TokenSet {
  const claims = oauth.getValidatedIdTokenClaims(result)
  const patient = typeof result.patient === 'string' ? result.patient : patientFromFhirUser(claims?.fhirUser)
  return {
    accessToken: result.access_token,
    // Healow's refresh tokens rotate: keep the new one; keep the old only when none came back.
    refreshToken: result.refresh_token ?? previousRefreshToken,
    expiresAt: Date.now() + (result.expires_in ?? DEFAULT_ACCESS_TOKEN_LIFETIME_S) * 1000,
    obtainedAt: Date.now(),
    scope: result.scope ?? '',
    patientId: patient
  }
}

/** `fhirUser` is `Patient/<id>` or a full URL ending so; the id is the last path segment. */
export function patientFromFhirUser (fhirUser: unknown): string | undefined {
  if (typeof fhirUser !== 'string') return undefined
  const match = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(fhirUser)
  return match?.[1]
}

/** Maps oauth4webapi and network failures to our coded errors (no token or code in any message). */
async function guard<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw mapError(err)
  }
}

/** oauth4webapi's codes for a token response whose ID Token fails a check. */
const ID_TOKEN_CODES = new Set<string>([oauth.JWT_TIMESTAMP_CHECK, oauth.JWT_CLAIM_COMPARISON, oauth.KEY_SELECTION, oauth.PARSE_ERROR])

function mapError (err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code
  if (err instanceof Error && typeof code === 'string' && code.startsWith('HEALOW_ERR_')) return err
  if (err instanceof oauth.ResponseBodyError) {
    if (err.error === 'invalid_grant') return attachHidden(new ReauthRequiredError('invalid_grant'), 'cause', err)
    if (err.status >= 500) return attachHidden(new UpstreamError(`token endpoint status ${err.status}`), 'cause', err)
    return attachHidden(new OAuthRejectedError(safeText(err.error), safeText(err.error_description ?? 'no description')), 'cause', err)
  }
  if (err instanceof oauth.AuthorizationResponseError) {
    return attachHidden(new OAuthRejectedError(safeText(err.error), safeText(err.error_description ?? 'no description')), 'cause', err)
  }
  if (err instanceof oauth.OperationProcessingError) {
    const status = (err.cause as { status?: number } | undefined)?.status
    if (typeof status === 'number' && status >= 500) return attachHidden(new UpstreamError(`token endpoint status ${status}`), 'cause', err)
    if (err.code !== undefined && ID_TOKEN_CODES.has(err.code)) return attachHidden(new IdTokenError(err.message.slice(0, 120)), 'cause', err)
    return attachHidden(new UpstreamError(err.code ?? 'unexpected response'), 'cause', err)
  }
  if (isTimeoutError(err)) return attachHidden(new UpstreamTimeoutError('token endpoint'), 'cause', err)
  return attachHidden(new UpstreamError(err instanceof Error ? err.name : 'unknown failure'), 'cause', err)
}

/** Upstream error codes are echoed to users: keep them to a short plain word. */
function safeText (value: string): string {
  return value.replace(/[^\w .,:;()'-]/g, '').slice(0, 200)
}
