import { randomBytes } from 'node:crypto'
import { signerFactory } from '@fastify/cookie'
import createError from '@fastify/error'
import type { FastifyReply, FastifyRequest } from 'fastify'

export const DEVICE_COOKIE = 'healow_device'
const DEVICE_COOKIE_MAX_AGE_S = 400 * 24 * 3600

export const UnauthenticatedError = createError<'HEALOW_ERR_UNAUTHENTICATED', 401, []>(
  'HEALOW_ERR_UNAUTHENTICATED', 'Sign in to the host application first', 401)

/** How the host tells us who is asking; undefined means nobody is signed in. */
export type GetUserId = (request: FastifyRequest) => string | undefined | Promise<string | undefined>

export type CookieSigner = ReturnType<typeof signerFactory>

/** Signs with the first secret; verifies with any (rotation). */
export function createCookieSigner (secrets: string[]): CookieSigner {
  return signerFactory(secrets)
}

/** Reads a cookie we signed; undefined when missing or tampered with. */
export function readSignedCookie (request: FastifyRequest, signer: CookieSigner, name: string): string | undefined {
  return readSigned(request, signer, name)?.value
}

function readSigned (request: FastifyRequest, signer: CookieSigner, name: string): { value: string, renew: boolean } | undefined {
  const raw = request.cookies?.[name]
  if (raw === undefined) return undefined
  const result = signer.unsign(raw)
  return result.valid && result.value !== null ? { value: result.value, renew: result.renew } : undefined
}

/**
 * The current user: the host's `getUserId(request)`, or else a device id in
 * a signed, HttpOnly cookie that the plugin sets on first contact.
 */
export function createUserResolver (options: { getUserId?: GetUserId, signer: CookieSigner, secure: boolean }) {
  const { getUserId, signer, secure } = options
  return async function resolveUserId (request: FastifyRequest, reply: FastifyReply): Promise<string> {
    if (getUserId !== undefined) {
      const id = await getUserId(request)
      if (typeof id !== 'string' || id === '') throw new UnauthenticatedError()
      return id
    }
    const existing = readSigned(request, signer, DEVICE_COOKIE)
    const valid = existing !== undefined && /^d-[A-Za-z0-9_-]{22}$/.test(existing.value)
    // Signed with an older secret: sign it again with the newest, so retiring the old key keeps the user.
    if (valid && !existing.renew) return existing.value
    const id = valid ? existing.value : `d-${randomBytes(16).toString('base64url')}`
    const signed = signer.sign(id)
    reply.setCookie(DEVICE_COOKIE, signed, {
      path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: DEVICE_COOKIE_MAX_AGE_S
    })
    // Later handlers in this request see the new id too.
    request.cookies[DEVICE_COOKIE] = signed
    return id
  }
}
