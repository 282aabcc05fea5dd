import type { SandboxSize } from './catalog.js'

/** eCW's practice codes are six characters; the real sandbox practice is `JAFJCD`. */
export const DEFAULT_PRACTICE_CODE = 'SANDBX'
export const DEFAULT_PRACTICE_NAME = 'Sandbox Family Practice'
export const DEFAULT_CLIENT_ID = 'sandbox-confidential-client'
export const DEFAULT_CLIENT_SECRET = 'sandbox-secret-not-for-production'
export const DEFAULT_PUBLIC_CLIENT_ID = 'sandbox-public-client'
/** Bundle links at Healow point at this origin, not the one that served them. */
export const DEFAULT_LINK_ORIGIN = 'http://fhir4.eclinicalworks.com'
/** Healow: 250 calls per calendar minute per practice, then 429 until the minute ends. */
export const DEFAULT_RATE_LIMIT = 250
export const DEFAULT_TOKEN_TTL_SECONDS = 3600
export const DEFAULT_PATIENTS = 3
export const DEFAULT_SEED = 'sandbox'
export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 200
/** Authorization codes live 60-120 s in most servers; 90 s here. */
export const CODE_TTL_SECONDS = 90
/** Healow refresh tokens are reported to live 90 days. */
export const REFRESH_TTL_SECONDS = 90 * 24 * 3600
export const CONSENT_TTL_SECONDS = 600

/** What the token endpoint does, for tests of a client's error handling. */
export type TokenEndpointFault = 'error' | 'hang'
/** How the id_token goes wrong, for tests of a client's id_token checks. */
export type IdTokenFault = 'foreign-key' | 'wrong-nonce' | 'expired' | 'wrong-aud' | 'wrong-iss'

/**
 * Faults, all off by default. Rates are fractions of FHIR resource requests
 * (reads and searches; discovery is spared), spread deterministically: a
 * rate of 0.25 hits requests 4, 8, 12, ... counted from the last `setFaults`.
 */
export interface SandboxFaults {
  /** Added before every FHIR resource response. */
  latencyMs?: number
  /** Up to this many more milliseconds, at random. */
  latencyJitterMs?: number
  /** 503 with an OperationOutcome. */
  failRate?: number
  /** The socket is reset before any byte is sent. */
  resetRate?: number
  /** Headers and part of the body are sent, then nothing more. */
  stallRate?: number
  /** 200 with a truncated JSON body. */
  malformedRate?: number
  /** Pages after the first link `next` back to the first page. */
  nextLinkLoop?: boolean
  tokenEndpoint?: TokenEndpointFault
  idToken?: IdTokenFault
  /** Healow once answered Goal searches with `total: 50` and no entries. */
  goalQuirk?: boolean
  /** The practice publishes no smart-configuration (404), as some do: clients fall back to their directory. */
  discoveryMissing?: boolean
}

/** Options of {@link startSandbox}; every one has a default. */
export interface SandboxOptions {
  port?: number
  host?: string
  seed?: string
  /** Patients in the practice (default 3); the first is the default patient. */
  patients?: number
  /** Resources per patient record: a preset or an approximate total. */
  size?: SandboxSize
  practiceCode?: string
  practiceName?: string
  clientId?: string
  clientSecret?: string
  publicClientId?: string
  /** Exact redirect URIs accepted; empty (default) accepts any https URL and any http loopback URL. */
  redirectUris?: string[]
  /** Authorize answers at once with a code for the first patient, no consent page. */
  autoApprove?: boolean
  tokenTtlSeconds?: number
  /** Calls per calendar minute before 429; 0 turns the limit off. */
  rateLimit?: number
  /** The rate limit's window: Healow's calendar minute (60000). Tests shorten it to compress time. */
  rateWindowMs?: number
  linkOrigin?: string
  /** Every `every`-th DocumentReference gets an attachment of `bytes` bytes. */
  largeAttachments?: { every: number, bytes: number }
  faults?: SandboxFaults
  /** The clock, for rate-limit minutes and expiries (tests advance it). */
  now?: () => number
}

export interface ResolvedOptions {
  port: number
  host: string
  seed: string
  patients: number
  size: SandboxSize
  practiceCode: string
  practiceName: string
  clientId: string
  clientSecret: string
  publicClientId: string
  redirectUris: string[]
  autoApprove: boolean
  tokenTtlSeconds: number
  rateLimit: number
  rateWindowMs: number
  linkOrigin: string
  largeAttachments: { every: number, bytes: number } | undefined
  faults: SandboxFaults
  now: () => number
}

/** Fills defaults and rejects values that would make the sandbox lie. */
export function resolveOptions (options: SandboxOptions = {}): ResolvedOptions {
  const resolved: ResolvedOptions = {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    seed: options.seed ?? DEFAULT_SEED,
    patients: options.patients ?? DEFAULT_PATIENTS,
    size: options.size ?? 'small',
    practiceCode: options.practiceCode ?? DEFAULT_PRACTICE_CODE,
    practiceName: options.practiceName ?? DEFAULT_PRACTICE_NAME,
    clientId: options.clientId ?? DEFAULT_CLIENT_ID,
    clientSecret: options.clientSecret ?? DEFAULT_CLIENT_SECRET,
    publicClientId: options.publicClientId ?? DEFAULT_PUBLIC_CLIENT_ID,
    redirectUris: [...(options.redirectUris ?? [])],
    autoApprove: options.autoApprove ?? false,
    tokenTtlSeconds: options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
    rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
    rateWindowMs: options.rateWindowMs ?? 60_000,
    linkOrigin: (options.linkOrigin ?? DEFAULT_LINK_ORIGIN).replace(/\/+$/, ''),
    largeAttachments: options.largeAttachments,
    faults: { ...options.faults },
    now: options.now ?? Date.now
  }
  checkOptions(resolved)
  return resolved
}

function checkOptions (o: ResolvedOptions): void {
  const bad: string[] = []
  if (!/^[A-Za-z0-9]{1,16}$/.test(o.practiceCode)) bad.push('practiceCode must be letters and digits')
  if (!Number.isInteger(o.patients) || o.patients < 1 || o.patients > 1000) bad.push('patients must be an integer from 1 to 1000')
  if (typeof o.size === 'number' && (!Number.isInteger(o.size) || o.size < 0)) bad.push('size must be a preset or a non-negative integer')
  if (typeof o.size === 'string' && !['small', 'medium', 'large'].includes(o.size)) bad.push('size must be small, medium, large or a number')
  if (!Number.isInteger(o.tokenTtlSeconds) || o.tokenTtlSeconds < 1) bad.push('tokenTtlSeconds must be a positive integer')
  if (!Number.isInteger(o.rateLimit) || o.rateLimit < 0) bad.push('rateLimit must be a non-negative integer (0 = off)')
  if (!Number.isInteger(o.rateWindowMs) || o.rateWindowMs < 100) bad.push('rateWindowMs must be a whole number of at least 100')
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) bad.push('port must be from 0 to 65535')
  if (o.clientId === o.publicClientId) bad.push('clientId and publicClientId must differ')
  if (o.largeAttachments !== undefined) {
    const { every, bytes } = o.largeAttachments
    if (!Number.isInteger(every) || every < 1 || !Number.isInteger(bytes) || bytes < 1) bad.push('largeAttachments needs positive integers every and bytes')
  }
  try {
    const url = new URL(o.linkOrigin)
    if (url.pathname !== '/' || url.search !== '') bad.push('linkOrigin must be an origin, without a path')
  } catch {
    bad.push('linkOrigin must be a URL')
  }
  for (const uri of o.redirectUris) {
    if (!URL.canParse(uri)) bad.push(`redirectUris: ${uri} is not a URL`)
  }
  if (bad.length > 0) throw new Error(`Invalid sandbox options: ${bad.join('; ')}`)
}
