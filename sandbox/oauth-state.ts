import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose'
import { CODE_TTL_SECONDS, CONSENT_TTL_SECONDS, REFRESH_TTL_SECONDS, type IdTokenFault } from './options.js'

/** What the patient granted to a client; codes, access and refresh tokens all carry one. */
export interface Grant {
  clientId: string
  patientIndex: number
  scope: string
  nonce?: string
}

/** An authorize request waiting on the consent page. */
export interface PendingAuthorization {
  clientId: string
  redirectUri: string
  scope: string
  state: string
  codeChallenge: string
  nonce?: string
}

interface Expiring<T> { value: T, exp: number }
interface CodeRecord extends Grant { redirectUri: string, codeChallenge: string }
interface RefreshRecord extends Grant { used: boolean }

const PRUNE_AT = 10_000

/** An opaque, unguessable token (RFC 6749 §10.10: 256 bits). */
export function newToken (): string {
  return randomBytes(32).toString('base64url')
}

/** PKCE S256 (RFC 7636 §4.6): BASE64URL(SHA256(verifier)) equals the challenge, compared in constant time. */
export function verifyPkce (verifier: string, challenge: string): boolean {
  if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) return false
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'))
  const expected = Buffer.from(challenge)
  return computed.length === expected.length && timingSafeEqual(computed, expected)
}

/** In-memory authorization state: pending consents, codes, access and refresh tokens. */
export class OAuthState {
  private readonly pending = new Map<string, Expiring<PendingAuthorization>>()
  private readonly codes = new Map<string, Expiring<CodeRecord>>()
  private readonly access = new Map<string, Expiring<Grant>>()
  private readonly refresh = new Map<string, Expiring<RefreshRecord>>()

  constructor (private readonly now: () => number) {}

  addPending (request: PendingAuthorization): string {
    return this.put(this.pending, request, CONSENT_TTL_SECONDS)
  }

  /** The consent form token is single use. */
  takePending (token: string): PendingAuthorization | undefined {
    return this.take(this.pending, token)
  }

  issueCode (record: CodeRecord): string {
    return this.put(this.codes, record, CODE_TTL_SECONDS)
  }

  /** Codes are single use (RFC 6749 §4.1.2) and expire after {@link CODE_TTL_SECONDS}. */
  takeCode (code: string): CodeRecord | undefined {
    return this.take(this.codes, code)
  }

  issueAccess (grant: Grant, ttlSeconds: number): string {
    return this.put(this.access, grant, ttlSeconds)
  }

  checkAccess (token: string): Grant | undefined {
    const entry = this.access.get(token)
    return entry !== undefined && entry.exp > this.now() ? entry.value : undefined
  }

  issueRefresh (grant: Grant): string {
    return this.put(this.refresh, { ...grant, used: false }, REFRESH_TTL_SECONDS)
  }

  /**
   * Healow's refresh tokens rotate and are single use: the first use marks it
   * spent, a second is `reused` (the caller answers invalid_grant and counts it).
   */
  useRefresh (token: string): Grant | 'reused' | undefined {
    const entry = this.refresh.get(token)
    if (entry === undefined || entry.exp <= this.now()) return undefined
    if (entry.value.used) return 'reused'
    entry.value.used = true
    const { used, ...grant } = entry.value
    return grant
  }

  private put<T> (map: Map<string, Expiring<T>>, value: T, ttlSeconds: number): string {
    if (map.size >= PRUNE_AT) this.prune(map)
    const token = newToken()
    map.set(token, { value, exp: this.now() + ttlSeconds * 1000 })
    return token
  }

  private take<T> (map: Map<string, Expiring<T>>, token: string): T | undefined {
    const entry = map.get(token)
    map.delete(token)
    return entry !== undefined && entry.exp > this.now() ? entry.value : undefined
  }

  private prune<T> (map: Map<string, Expiring<T>>): void {
    const now = this.now()
    for (const [key, entry] of map) if (entry.exp <= now) map.delete(key)
  }
}

/** The signing key (published in the JWKS) and a foreign one for the forged-signature fault. */
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey']

export interface SigningKeys {
  kid: string
  privateKey: PrivateKey
  foreignKey: PrivateKey
  jwks: { keys: JWK[] }
}

export async function createSigningKeys (): Promise<SigningKeys> {
  const [own, foreign] = await Promise.all([generateKeyPair('RS256', { extractable: true }), generateKeyPair('RS256')])
  const kid = randomBytes(8).toString('hex')
  const jwk = await exportJWK(own.publicKey)
  return { kid, privateKey: own.privateKey, foreignKey: foreign.privateKey, jwks: { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] } }
}

export interface IdTokenClaims {
  issuer: string
  subject: string
  audience: string
  fhirUser: string
  nonce?: string
  nowMs: number
  ttlSeconds: number
}

/** OpenID Connect id_token (RS256), optionally broken in one way for client tests. */
export async function signIdToken (keys: SigningKeys, claims: IdTokenClaims, fault: IdTokenFault | undefined): Promise<string> {
  const iat = Math.floor(claims.nowMs / 1000) - (fault === 'expired' ? 7200 : 0)
  const nonce = fault === 'wrong-nonce' ? `not-${claims.nonce ?? 'a-nonce'}` : claims.nonce
  const jwt = new SignJWT({ fhirUser: claims.fhirUser, ...(nonce === undefined ? {} : { nonce }) })
    .setProtectedHeader({ alg: 'RS256', kid: keys.kid, typ: 'JWT' })
    .setIssuer(fault === 'wrong-iss' ? 'https://issuer.invalid/oauth' : claims.issuer)
    .setSubject(claims.subject)
    .setAudience(fault === 'wrong-aud' ? 'some-other-client' : claims.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (fault === 'expired' ? 3600 : claims.ttlSeconds))
  return await jwt.sign(fault === 'foreign-key' ? keys.foreignKey : keys.privateKey)
}
