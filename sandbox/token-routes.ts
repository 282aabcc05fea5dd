import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAUTH_PATHS, type SandboxContext } from './context.js'
import { signIdToken, verifyPkce, type Grant } from './oauth-state.js'
import type { IdTokenFault } from './options.js'

/** The token endpoint's answer (RFC 6749 §5.1 plus SMART's `patient` and OpenID's `id_token`). */
export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  scope: string
  patient: string
  id_token?: string
  refresh_token?: string
}

type ClientKind = 'confidential' | 'public'
type Authenticated = { kind: ClientKind, clientId: string } | { error: string, status: number, basic: boolean }

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }

function oauthError (reply: FastifyReply, status: number, error: string, description: string, basic = false): FastifyReply {
  const headers: Record<string, string> = { ...NO_STORE }
  // RFC 6749 §5.2: a 401 after HTTP Basic carries WWW-Authenticate.
  if (basic) headers['www-authenticate'] = 'Basic realm="sandbox"'
  return reply.code(status).headers(headers).send({ error, error_description: description })
}

/** client_id and secret inside Basic are form-urlencoded first (RFC 6749 §2.3.1). */
function decodeBasic (header: string): { id: string, secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim())
  if (match === null) return undefined
  const text = Buffer.from(match[1] ?? '', 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon < 0) return undefined
  try {
    const decode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '))
    return { id: decode(text.slice(0, colon)), secret: decode(text.slice(colon + 1)) }
  } catch {
    return undefined
  }
}

/**
 * Healow's confidential client authenticates with `client_secret_basic` only:
 * a secret in the body, or a missing or wrong one, is `invalid_client`. The
 * public client names itself in the body and sends no secret.
 */
export function authenticateClient (ctx: SandboxContext, authorization: string | undefined, body: Record<string, string>): Authenticated {
  const o = ctx.options
  if (body.client_secret !== undefined) return { error: 'client_secret_post is not supported: use HTTP Basic', status: 401, basic: false }
  if (authorization !== undefined) {
    const basic = decodeBasic(authorization)
    const ok = basic !== undefined && basic.id === o.clientId && basic.secret === o.clientSecret &&
      (body.client_id === undefined || body.client_id === o.clientId)
    return ok ? { kind: 'confidential', clientId: o.clientId } : { error: 'client authentication failed', status: 401, basic: true }
  }
  if (body.client_id === o.publicClientId) return { kind: 'public', clientId: o.publicClientId }
  if (body.client_id === o.clientId) return { error: 'the confidential client must authenticate with HTTP Basic', status: 401, basic: false }
  return { error: 'unknown client', status: 401, basic: false }
}

/** Access token, id_token when `openid` was granted, and a refresh token for the confidential client with `offline_access`. */
export async function mintTokens (ctx: SandboxContext, grant: Grant, kind: ClientKind, idTokenFault: IdTokenFault | undefined): Promise<TokenResponse> {
  const o = ctx.options
  const scopes = grant.scope.split(' ')
  const patientId = ctx.store.patients[grant.patientIndex]?.id ?? ''
  const response: TokenResponse = {
    access_token: ctx.oauth.issueAccess(grant, o.tokenTtlSeconds),
    token_type: 'Bearer',
    expires_in: o.tokenTtlSeconds,
    scope: grant.scope,
    patient: patientId
  }
  if (scopes.includes('openid')) {
    response.id_token = await signIdToken(ctx.keys, {
      issuer: ctx.urls.issuer,
      // The portal user, not the patient: clients must take the patient from fhirUser or `patient`.
      subject: createHash('sha256').update(`${o.seed}|user|${patientId}`).digest('base64url').slice(0, 22),
      audience: grant.clientId,
      fhirUser: `${ctx.urls.fhirBase}/Patient/${patientId}`,
      ...(grant.nonce === undefined ? {} : { nonce: grant.nonce }),
      nowMs: o.now(),
      ttlSeconds: o.tokenTtlSeconds
    }, idTokenFault)
  }
  if (kind === 'confidential' && scopes.includes('offline_access')) {
    const { nonce, ...lasting } = grant
    response.refresh_token = ctx.oauth.issueRefresh(lasting)
  }
  return response
}

async function exchangeCode (ctx: SandboxContext, reply: FastifyReply, client: { kind: ClientKind, clientId: string }, body: Record<string, string>): Promise<FastifyReply> {
  const record = ctx.oauth.takeCode(body.code ?? '')
  if (record === undefined) return oauthError(reply, 400, 'invalid_grant', 'the code is unknown, expired or already used')
  if (record.clientId !== client.clientId) return oauthError(reply, 400, 'invalid_grant', 'the code was issued to another client')
  if (record.redirectUri !== body.redirect_uri) return oauthError(reply, 400, 'invalid_grant', 'redirect_uri does not match the authorize request')
  if (!verifyPkce(body.code_verifier ?? '', record.codeChallenge)) return oauthError(reply, 400, 'invalid_grant', 'PKCE verification failed')
  const { redirectUri, codeChallenge, ...grant } = record
  ctx.traffic.countGrant('authorization_code')
  return reply.headers(NO_STORE).send(await mintTokens(ctx, grant, client.kind, ctx.traffic.faults.idToken))
}

/** Refresh tokens rotate and are single use; a reuse is refused and counted. */
async function refresh (ctx: SandboxContext, reply: FastifyReply, client: { kind: ClientKind, clientId: string }, body: Record<string, string>): Promise<FastifyReply> {
  if (client.kind !== 'confidential') return oauthError(reply, 400, 'unauthorized_client', 'public clients get no refresh tokens')
  const used = ctx.oauth.useRefresh(body.refresh_token ?? '')
  if (used === 'reused') {
    ctx.traffic.countRefreshReuse()
    return oauthError(reply, 400, 'invalid_grant', 'the refresh token was already used')
  }
  if (used === undefined || used.clientId !== client.clientId) return oauthError(reply, 400, 'invalid_grant', 'the refresh token is unknown or expired')
  let scope = used.scope
  if (body.scope !== undefined) {
    const had = new Set(used.scope.split(' '))
    const asked = body.scope.split(' ').filter((s) => s !== '')
    if (asked.length === 0 || asked.some((s) => !had.has(s))) return oauthError(reply, 400, 'invalid_scope', 'a refresh may only narrow the scope')
    scope = asked.join(' ')
  }
  ctx.traffic.countGrant('refresh_token')
  return reply.headers(NO_STORE).send(await mintTokens(ctx, { ...used, scope }, 'confidential', ctx.traffic.faults.idToken))
}

async function token (ctx: SandboxContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const fault = ctx.traffic.faults.tokenEndpoint
  if (fault === 'hang') {
    ctx.traffic.countFault('tokenHang')
    // Never answered: the socket stays open until the client gives up or the sandbox closes.
    return reply.hijack()
  }
  if (fault === 'error') {
    ctx.traffic.countFault('tokenError')
    return oauthError(reply, 500, 'server_error', 'the token service failed (sandbox fault)')
  }
  const type = request.headers['content-type'] ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded')) return oauthError(reply, 400, 'invalid_request', 'send application/x-www-form-urlencoded')
  const body = request.body as Record<string, string>
  const client = authenticateClient(ctx, request.headers.authorization, body)
  if ('error' in client) return oauthError(reply, client.status, 'invalid_client', client.error, client.basic)
  if (body.grant_type === 'authorization_code') return await exchangeCode(ctx, reply, client, body)
  if (body.grant_type === 'refresh_token') return await refresh(ctx, reply, client, body)
  return oauthError(reply, 400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token')
}

/** POST token and GET jwks. */
export function registerToken (app: FastifyInstance, ctx: SandboxContext): void {
  app.post(OAUTH_PATHS.token, async (request, reply) => await token(ctx, request, reply))
  app.get(OAUTH_PATHS.jwks, async (_request, reply) => await reply.header('cache-control', 'public, max-age=300').send(ctx.keys.jwks))
}
