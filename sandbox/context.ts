import { READ_TYPES, SEARCH_TYPES } from './catalog.js'
import type { OAuthState, SigningKeys } from './oauth-state.js'
import type { ResolvedOptions } from './options.js'
import type { RecordStore } from './record-store.js'
import type { Traffic } from './traffic.js'

/** The sandbox's URLs, known once it listens. Paths mirror eCW's (`/oauth/oauth2/...`, `/fhir/r4/{code}`). */
export interface SandboxUrls {
  origin: string
  fhirBase: string
  authorize: string
  decision: string
  token: string
  jwks: string
  issuer: string
}

export const OAUTH_PATHS = {
  authorize: '/oauth/oauth2/authorize',
  decision: '/oauth/oauth2/authorize/decision',
  token: '/oauth/oauth2/token',
  jwks: '/oauth/oauth2/jwks',
  issuer: '/oauth'
} as const

export function fhirBasePath (practiceCode: string): string {
  return `/fhir/r4/${practiceCode}`
}

export function buildUrls (origin: string, practiceCode: string): SandboxUrls {
  return {
    origin,
    fhirBase: origin + fhirBasePath(practiceCode),
    authorize: origin + OAUTH_PATHS.authorize,
    decision: origin + OAUTH_PATHS.decision,
    token: origin + OAUTH_PATHS.token,
    jwks: origin + OAUTH_PATHS.jwks,
    issuer: origin + OAUTH_PATHS.issuer
  }
}

/** Everything the route groups share. */
export interface SandboxContext {
  options: ResolvedOptions
  store: RecordStore
  oauth: OAuthState
  keys: SigningKeys
  traffic: Traffic
  urls: SandboxUrls
}

/** Every scope the sandbox grants: identity, refresh, and read access per type. */
export const SUPPORTED_SCOPES: readonly string[] = [
  'openid', 'fhirUser', 'launch/patient', 'offline_access',
  ...[...SEARCH_TYPES, ...READ_TYPES].map((type) => `patient/${type}.read`)
]

/** The scope `issueTokens` grants when none is given: everything. */
export const DEFAULT_SCOPE = SUPPORTED_SCOPES.join(' ')

/** SMART scopes (v1 `.read`, wildcard, or v2 `.rs`) that allow reading `type`. */
export function scopeAllows (scope: string, type: string): boolean {
  const allowed = new Set(scope.split(' '))
  for (const t of [type, '*']) {
    for (const access of ['read', '*', 'rs', 'r']) {
      if (allowed.has(`patient/${t}.${access}`)) return true
    }
  }
  return false
}
