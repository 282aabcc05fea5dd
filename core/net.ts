import { isIP } from 'node:net'

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and ::1 (RFC 6761 §6.3). */
export function isLoopbackHost (hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}

/**
 * Whether a practice or public URL may be used: https always; http only on a
 * loopback host and only when insecure loopback is allowed (tests, the sandbox).
 */
export function isAllowedOrigin (url: URL, insecureLoopback: boolean): boolean {
  if (url.protocol === 'https:') return true
  return url.protocol === 'http:' && insecureLoopback && isLoopbackHost(url.hostname)
}

/** Removes trailing slashes: Healow's `aud` is the FHIR base without one. */
export function stripTrailingSlash (url: string): string {
  return url.replace(/\/+$/, '')
}
