/**
 * pino redaction paths for every logger that may see our objects: request
 * headers that carry credentials, and any field named like a token, code,
 * verifier or secret. The plugin's routes also log URLs without their query
 * (the callback's query holds the authorization code).
 */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.accessToken',
  '*.refreshToken',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.idToken',
  '*.code',
  '*.codeVerifier',
  '*.code_verifier',
  '*.clientSecret',
  '*.client_secret',
  '*.cookieSecret',
  '*.encryptionKey',
  '*.encryptionKeys',
  '*.tokens',
  '*.resource',
  '*.record'
] as const

/** Path of a URL without its query string or fragment, for logs. */
export function pathOnly (url: string): string {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}
