/** Where to send the browser after connecting, when the host names nothing. */
export const DEFAULT_RETURN_TO = '/'
const MAX_RETURN_TO_LENGTH = 2048

/**
 * Accepts only a same-origin relative path (`/records?tab=1`). Refuses
 * absolute and protocol-relative URLs, backslashes (browsers read `/\` as
 * `//`), control characters, and percent-encoded slashes, backslashes or
 * dots that a later decode could turn into any of those. Returns the path,
 * or undefined when it is not acceptable (an open redirect otherwise).
 */
export function checkReturnTo (value: string | undefined, publicUrl: string): string | undefined {
  if (value === undefined || value === '') return DEFAULT_RETURN_TO
  if (value.length > MAX_RETURN_TO_LENGTH) return undefined
  if (!value.startsWith('/') || value.startsWith('//')) return undefined
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f\s]/.test(value)) return undefined
  if (/%(2f|5c|2e|00|0d|0a|09|25)/i.test(value)) return undefined
  let decoded: string
  try { decoded = decodeURIComponent(value) } catch { return undefined }
  if (decoded.startsWith('//') || decoded.includes('\\')) return undefined
  const base = new URL(publicUrl)
  const resolved = new URL(value, base)
  if (resolved.origin !== base.origin) return undefined
  return resolved.pathname + resolved.search + resolved.hash
}

/** Adds query parameters to a checked returnTo path. */
export function withParams (returnTo: string, params: Record<string, string>): string {
  const url = new URL(returnTo, 'http://placeholder.invalid')
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  return url.pathname + url.search + url.hash
}
