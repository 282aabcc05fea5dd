import * as oauth from 'oauth4webapi'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { PendingAuthorizationRecord } from '../../core/auth-state.js'
import type { Tenant } from '../../core/directory.js'
import { UnknownPracticeError } from '../../core/errors.js'
import { ensureSchedule, enqueueSync } from '../../core/sync-jobs.js'
import type { RouteDeps } from '../deps.js'
import { errorBody } from '../errors.js'
import { checkReturnTo, withParams } from '../return-to.js'
import { readSignedCookie } from '../user.js'

export const AUTH_COOKIE = 'healow_auth'
const AUTH_COOKIE_MAX_AGE_S = 600

const authorizeQuery = z.object({
  tenant: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be a practice code from GET /healow/tenants' }),
  returnTo: z.string().max(2048).optional()
})

const callbackQuery = z.looseObject({
  state: z.string().max(512).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional()
})

/** The OAuth front door: GET /authorize and GET /callback (SMART standalone patient launch). */
const authorizeRoutes: FastifyPluginAsyncZod<{ deps: RouteDeps }> = async (fastify, { deps }) => {
  const { core, signer, secureCookies, resolveUserId } = deps
  const { config, directory, budget, oauth: client, authStates, connections, syncQueue } = core
  const callbackPath = `${config.prefix}/callback`

  fastify.get('/authorize', { schema: { querystring: authorizeQuery } }, async (request, reply) => {
    const userId = await resolveUserId(request, reply)
    const tenant = directory.get(request.query.tenant)
    if (tenant === undefined) throw new UnknownPracticeError(request.query.tenant)
    const returnTo = checkReturnTo(request.query.returnTo, config.publicUrl)
    if (returnTo === undefined) {
      return await reply.code(400).send(errorBody(400, 'HEALOW_ERR_BAD_RETURN_TO', 'returnTo must be a path on this site, like /records'))
    }
    const state = oauth.generateRandomState()
    const nonce = oauth.generateRandomNonce()
    const codeVerifier = oauth.generateRandomCodeVerifier()
    const url = await client.authorizationUrl(tenant, { state, nonce, codeChallenge: await oauth.calculatePKCECodeChallenge(codeVerifier) })
    // Healow counts the authorize call against the practice's 250 a minute.
    const decision = await budget.take(tenant.id)
    if (!decision.ok) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000))
      return await reply.code(429).header('retry-after', String(seconds))
        .send(errorBody(429, 'HEALOW_ERR_PRACTICE_BUSY', `The practice is busy; try again in ${seconds} seconds`))
    }
    await authStates.save(state, { userId, tenantId: tenant.id, codeVerifier, nonce, returnTo, createdAt: Date.now() })
    // Binds the pending authorization to this browser (login CSRF defence, RFC 6749 §10.12).
    reply.setCookie(AUTH_COOKIE, signer.sign(state), {
      path: callbackPath, httpOnly: true, sameSite: 'lax', secure: secureCookies, maxAge: AUTH_COOKIE_MAX_AGE_S
    })
    request.log.info({ practiceId: tenant.id }, 'authorization started')
    return await reply.redirect(url.href, 302)
  })

  fastify.get('/callback', { schema: { querystring: callbackQuery } }, async (request, reply) => {
    const { state } = request.query
    const cookieState = readSignedCookie(request, signer, AUTH_COOKIE)
    reply.clearCookie(AUTH_COOKIE, { path: callbackPath })
    if (state === undefined || state === '') return await refuse(reply, 'HEALOW_ERR_STATE_MISSING', 'The practice sent no state: start connecting again')
    if (cookieState !== state) {
      return await refuse(reply, 'HEALOW_ERR_STATE_FOREIGN', 'This sign-in was not started in this browser, or it expired: start connecting again')
    }
    const pending = await authStates.take(state)
    if (pending === undefined) return await refuse(reply, 'HEALOW_ERR_STATE_EXPIRED', 'This sign-in expired or was already used: start connecting again')
    const userId = await resolveUserId(request, reply)
    if (pending.userId !== userId) return await refuse(reply, 'HEALOW_ERR_STATE_FOREIGN', 'This sign-in belongs to another user: start connecting again')
    const tenant = directory.get(pending.tenantId)
    if (tenant === undefined) throw new UnknownPracticeError(pending.tenantId)
    if (request.query.error !== undefined) {
      request.log.info({ practiceId: tenant.id, error: safeCode(request.query.error) }, 'authorization declined at the practice')
      return await reply.redirect(withParams(pending.returnTo, { healow_error: safeCode(request.query.error) }), 302)
    }
    return await finish(request, reply, pending, tenant)
  })

  async function finish (request: FastifyRequest, reply: FastifyReply, pending: PendingAuthorizationRecord, tenant: Tenant): Promise<FastifyReply> {
    const params = new URLSearchParams(request.query as Record<string, string>)
    let tokens
    try {
      tokens = await client.exchangeCode(tenant, params, { state: params.get('state') ?? '', nonce: pending.nonce, codeVerifier: pending.codeVerifier })
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'HEALOW_ERR_UPSTREAM'
      request.log.warn({ practiceId: tenant.id, code }, 'code exchange failed')
      return await reply.redirect(withParams(pending.returnTo, { healow_error: code }), 302)
    }
    if (tokens.patientId === undefined) {
      request.log.warn({ practiceId: tenant.id }, 'token response named no patient')
      return await reply.redirect(withParams(pending.returnTo, { healow_error: 'HEALOW_ERR_NO_PATIENT' }), 302)
    }
    const { connection, created } = await connections.upsert({
      userId: pending.userId, tenant, patientId: tokens.patientId, mode: config.confidential ? 'confidential' : 'public', tokens
    })
    // Only the connection id travels in job data; the worker reads the tokens from the store.
    await enqueueSync(syncQueue, connection.id, 'initial')
    if (connection.mode === 'confidential') await ensureSchedule(syncQueue, connection, config.syncIntervalMs)
    request.log.info({ connectionId: connection.id, practiceId: tenant.id, created }, 'practice connected')
    return await reply.redirect(withParams(pending.returnTo, { connection: connection.id }), 302)
  }

  async function refuse (reply: FastifyReply, code: string, message: string): Promise<FastifyReply> {
    return await reply.code(400).send(errorBody(400, code, message))
  }
}

/** Error codes from the practice are echoed back: only a short word survives. */
function safeCode (value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64)
  return cleaned === '' ? 'unknown_error' : cleaned
}

export default authorizeRoutes
