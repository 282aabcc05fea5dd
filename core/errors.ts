import createError from '@fastify/error'

/**
 * Coded errors shared by the plugin and the worker. Codes are stable; messages
 * never carry a token, code, secret or record text. The upstream response, when
 * kept, is non-enumerable so it never reaches a log serializer.
 */
export const ReauthRequiredError = createError<'HEALOW_ERR_REAUTH_REQUIRED', 409, [string]>(
  'HEALOW_ERR_REAUTH_REQUIRED', 'The practice refused the saved authorization (%s): connect again', 409)
export const OAuthRejectedError = createError<'HEALOW_ERR_OAUTH_REJECTED', 502, [string, string]>(
  'HEALOW_ERR_OAUTH_REJECTED', 'The practice refused the authorization: %s (%s)', 502)
export const IdTokenError = createError<'HEALOW_ERR_ID_TOKEN', 502, [string]>(
  'HEALOW_ERR_ID_TOKEN', 'The practice sent an identity token that failed verification: %s', 502)
export const UpstreamError = createError<'HEALOW_ERR_UPSTREAM', 502, [string]>(
  'HEALOW_ERR_UPSTREAM', 'The practice could not be reached or answered with an error: %s', 502)
export const UpstreamTimeoutError = createError<'HEALOW_ERR_UPSTREAM_TIMEOUT', 504, [string]>(
  'HEALOW_ERR_UPSTREAM_TIMEOUT', 'The practice did not answer in time: %s', 504)
export const UnknownPracticeError = createError<'HEALOW_ERR_UNKNOWN_PRACTICE', 404, [string]>(
  'HEALOW_ERR_UNKNOWN_PRACTICE', 'No practice with code %s: search GET /healow/tenants?q=<name> and use the id it returns', 404)
export const NotFoundError = createError<'HEALOW_ERR_NOT_FOUND', 404, [string]>(
  'HEALOW_ERR_NOT_FOUND', '%s not found', 404)

/** Keeps a value on an error without letting serializers or JSON see it. */
export function attachHidden<E extends object> (error: E, name: string, value: unknown): E {
  Object.defineProperty(error, name, { value, enumerable: false, configurable: true })
  return error
}
