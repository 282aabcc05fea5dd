import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isLoopbackHost } from '../core/net.js'
import { HTML_HEADERS, renderConsentPage, renderErrorPage } from './consent-page.js'
import { OAUTH_PATHS, SUPPORTED_SCOPES, type SandboxContext } from './context.js'
import type { PendingAuthorization } from './oauth-state.js'

type Checked =
  | { ok: PendingAuthorization }
  | { fatal: string }
  | { error: string, description: string, redirectUri: string, state: string | undefined }

const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/

/** Reads a query or form once per name; a repeated parameter is an error (RFC 6749 §3.1). */
export function singleParams (search: URLSearchParams): Record<string, string> | undefined {
  const out: Record<string, string> = {}
  for (const [key, value] of search) {
    if (Object.hasOwn(out, key)) return undefined
    out[key] = value
  }
  return out
}

/** Redirect URIs: the configured list exactly, or by default any https URL and any http loopback URL. */
export function acceptsRedirect (ctx: SandboxContext, uri: string): boolean {
  const listed = ctx.options.redirectUris
  if (listed.length > 0) return listed.includes(uri)
  if (!URL.canParse(uri)) return false
  const url = new URL(uri)
  if (url.hash !== '') return false
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}

/**
 * Checks an authorize request in the order RFC 6749 §4.1.2.1 asks: client and
 * redirect URI first (never redirect to an unchecked URI), the rest as an
 * error redirect. `aud` must equal the FHIR base exactly, as at Healow.
 */
export function checkAuthorize (ctx: SandboxContext, q: Record<string, string> | undefined): Checked {
  if (q === undefined) return { fatal: 'A parameter is repeated.' }
  const { options: o } = ctx
  const clientId = q.client_id ?? ''
  if (clientId !== o.clientId && clientId !== o.publicClientId) return { fatal: 'Unknown client_id.' }
  const redirectUri = q.redirect_uri ?? ''
  if (!acceptsRedirect(ctx, redirectUri)) return { fatal: 'This redirect_uri is not registered for the client.' }
  const fail = (error: string, description: string): Checked => ({ error, description, redirectUri, state: q.state })
  if (q.response_type !== 'code') return fail('unsupported_response_type', 'response_type must be code')
  if (q.state === undefined || q.state === '') return fail('invalid_request', 'state is required')
  if (q.code_challenge_method !== 'S256' || !CHALLENGE_RE.test(q.code_challenge ?? '')) {
    return fail('invalid_request', 'PKCE is required: code_challenge with code_challenge_method=S256')
  }
  if (q.aud !== ctx.urls.fhirBase) return fail('invalid_request', 'aud must be the FHIR base URL of the practice')
  const requested = (q.scope ?? '').split(' ').filter((s) => s !== '')
  const granted = requested.filter((s) => SUPPORTED_SCOPES.includes(s) && !(s === 'offline_access' && clientId === o.publicClientId))
  if (granted.length === 0) return fail('invalid_scope', 'no supported scope requested')
  return {
    ok: {
      clientId,
      redirectUri,
      scope: granted.join(' '),
      state: q.state,
      codeChallenge: q.code_challenge ?? '',
      ...(q.nonce === undefined ? {} : { nonce: q.nonce })
    }
  }
}

function redirectWith (reply: FastifyReply, redirectUri: string, params: Record<string, string | undefined>): FastifyReply {
  const url = new URL(redirectUri)
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value)
  return reply.header('cache-control', 'no-store').redirect(url.href, 302)
}

function sendHtml (reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(HTML_HEADERS).send(html)
}

function issueCodeRedirect (ctx: SandboxContext, reply: FastifyReply, request: PendingAuthorization, patientIndex: number): FastifyReply {
  const code = ctx.oauth.issueCode({
    clientId: request.clientId,
    patientIndex,
    scope: request.scope,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    ...(request.nonce === undefined ? {} : { nonce: request.nonce })
  })
  return redirectWith(reply, request.redirectUri, { code, state: request.state })
}

function authorize (ctx: SandboxContext, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const search = new URL(request.url, 'http://sandbox.invalid').searchParams
  const checked = checkAuthorize(ctx, singleParams(search))
  if ('fatal' in checked) return sendHtml(reply, 400, renderErrorPage('Sign-in request refused', checked.fatal))
  if ('error' in checked) {
    return redirectWith(reply, checked.redirectUri, { error: checked.error, error_description: checked.description, state: checked.state })
  }
  if (ctx.options.autoApprove) return issueCodeRedirect(ctx, reply, checked.ok, 0)
  const formToken = ctx.oauth.addPending(checked.ok)
  return sendHtml(reply, 200, renderConsentPage({
    practiceName: ctx.options.practiceName,
    clientId: checked.ok.clientId,
    scopes: checked.ok.scope.split(' '),
    formToken,
    action: OAUTH_PATHS.decision,
    patients: ctx.store.patients
  }))
}

/** The consent form: its token binds the pending request and is used once. */
function decide (ctx: SandboxContext, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const form = request.body as Record<string, string> | undefined
  const pending = ctx.oauth.takePending(form?.request ?? '')
  if (pending === undefined) return sendHtml(reply, 400, renderErrorPage('Sign-in expired', 'This sign-in request expired or was already used. Start again from the application.'))
  if (form?.decision === 'deny') {
    return redirectWith(reply, pending.redirectUri, { error: 'access_denied', error_description: 'The patient denied access', state: pending.state })
  }
  const patientIndex = ctx.store.patientIndex(form?.patient ?? '')
  if (patientIndex === undefined) return sendHtml(reply, 400, renderErrorPage('Unknown patient', 'Choose one of the sandbox patients.'))
  return issueCodeRedirect(ctx, reply, pending, patientIndex)
}

/** GET authorize (consent page or auto-approval) and POST decision. */
export function registerAuthorize (app: FastifyInstance, ctx: SandboxContext): void {
  app.get(OAUTH_PATHS.authorize, async (request, reply) => authorize(ctx, request, reply))
  app.post(OAUTH_PATHS.decision, async (request, reply) => decide(ctx, request, reply))
}
