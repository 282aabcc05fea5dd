import { setTimeout as sleep } from 'node:timers/promises'
import createError from '@fastify/error'
import type { Response } from 'undici'
import type { Logger } from './context.js'
import { ReauthRequiredError, UpstreamError, UpstreamTimeoutError, attachHidden } from './errors.js'
import { isTimeoutError, type PracticeFetch } from './http.js'
import { isLoopbackHost } from './net.js'
import type { PracticeBudget } from './practice-budget.js'

export const DEFAULT_MAX_ATTEMPTS = 5
export const DEFAULT_BASE_DELAY_MS = 500
export const DEFAULT_MAX_DELAY_MS = 30_000
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
/** Background work may wait this long for the practice's shared budget. */
export const DEFAULT_BUDGET_MAX_WAIT_MS = 5 * 60_000
/** Healow answers in this media type and expects it asked for (recording). */
export const FHIR_ACCEPT = 'application/json+fhir'
/** Error bodies are read only this far: enough for an OperationOutcome. */
const ERROR_BODY_BYTES = 64 * 1024
const MAX_REASON_LENGTH = 200
const PAUSE_JITTER_MS = 250

/** Who calls, for which practice, with which token source. */
export interface FhirRequestContext {
  practiceId: string
  /** The practice's FHIR base, no trailing slash. */
  baseUrl: string
  getAccessToken (): Promise<string>
  /** Called on a 401: refreshes (single-flight, elsewhere) and returns the new access token; throws HEALOW_ERR_REAUTH_REQUIRED when it cannot. */
  onUnauthorized (): Promise<string>
  signal?: AbortSignal
}

export interface FhirClientOptions {
  fetch: PracticeFetch
  budget: PracticeBudget
  log?: Logger
  maxAttempts?: number
  baseDelayMs?: number
  maxDelayMs?: number
  maxResponseBytes?: number
  budgetMaxWaitMs?: number
  /** Allow `http:` bases on loopback hosts (tests, the sandbox); `https:` is always required otherwise. */
  allowLoopbackHttp?: boolean
}

export type BinaryResult = { contentType: string, data: Buffer } | { tooLarge: true, size?: number }

export interface FhirClient {
  /** GET a FHIR URL (must be under ctx.baseUrl, else throws) with Accept: application/json+fhir and the bearer token. */
  getJson (ctx: FhirRequestContext, url: URL | string): Promise<{ status: number, body: unknown }>
  /** GET a Binary (DocumentReference attachment) under the base, refusing bodies over maxBytes (Content-Length checked, bytes counted while streaming). */
  getBinary (ctx: FhirRequestContext, url: URL | string, maxBytes: number): Promise<BinaryResult>
}

const FhirSearchErrorBase = createError<'HEALOW_ERR_FHIR_SEARCH', 502, [number, string]>(
  'HEALOW_ERR_FHIR_SEARCH', 'The practice refused the request with status %d: %s', 502)

/** A 4xx answer (400, 403, 404, ...): not retried; the sync records it and goes on. */
export class FhirSearchError extends FhirSearchErrorBase {
  /** The practice's HTTP status. */
  readonly status: number
  /** The OperationOutcome diagnostics, trimmed; never record text beyond that. */
  readonly reason: string
  constructor (status: number, reason: string) {
    super(status, reason)
    this.name = 'FhirSearchError'
    this.status = status
    this.reason = reason
  }
}

/** Thrown before any request for a URL that is not under the practice's base. */
export const FhirTargetError = createError<'HEALOW_ERR_FHIR_TARGET', 400, [string]>(
  'HEALOW_ERR_FHIR_TARGET', 'Refusing a URL outside the practice FHIR base: %s', 400)

/** Encoded `.`, `/` and `\` in a path are how traversal hides from a prefix check. */
const ENCODED_ESCAPE_RE = /%(2e|2f|5c)/i

function parseBase (baseUrl: string, allowLoopbackHttp: boolean): URL {
  const base = URL.canParse(baseUrl) ? new URL(baseUrl) : undefined
  if (base === undefined || base.username !== '' || base.password !== '' || base.search !== '' || base.hash !== '') {
    throw new FhirTargetError('the practice base is not a plain URL')
  }
  const secure = base.protocol === 'https:' || (base.protocol === 'http:' && allowLoopbackHttp && isLoopbackHost(base.hostname))
  if (!secure) throw new FhirTargetError('the practice base is not https')
  base.pathname = base.pathname.replace(/\/+$/, '')
  return base
}

/**
 * The URL to request, after checking it sits under the practice's base:
 * same origin (so the token never reaches another host), path equal to or
 * below the base path, no credentials, no encoded escapes. Throws
 * `HEALOW_ERR_FHIR_TARGET` otherwise.
 */
export function resolveFhirUrl (baseUrl: string, target: URL | string, allowLoopbackHttp = false): URL {
  const base = parseBase(baseUrl, allowLoopbackHttp)
  const href = typeof target === 'string' ? target : target.href
  const url = URL.canParse(href) ? new URL(href) : undefined
  if (url === undefined) throw new FhirTargetError('not an absolute URL')
  if (url.username !== '' || url.password !== '') throw new FhirTargetError('credentials in the URL')
  if (url.origin !== base.origin) throw new FhirTargetError('another origin')
  if (url.pathname !== base.pathname && !url.pathname.startsWith(base.pathname + '/')) throw new FhirTargetError('a path outside the base')
  if (ENCODED_ESCAPE_RE.test(url.pathname)) throw new FhirTargetError('an encoded path escape')
  url.hash = ''
  return url
}

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter (value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000
  // Every HTTP-date form starts with the day name; anything else is not a date, whatever Date.parse thinks.
  const at = /^[A-Za-z]{3}/.test(text) ? Date.parse(text) : NaN
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** Reads a body up to `maxBytes`; `undefined` (and the body cancelled) when it is larger. */
async function readCapped (res: Response, maxBytes: number): Promise<Buffer | undefined> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {})
    return undefined
  }
  if (res.body === null) return Buffer.alloc(0)
  const reader = res.body.getReader()
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel().catch(() => {})
      return undefined
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))
  }
  return Buffer.concat(chunks, size)
}

/** A short reason from an OperationOutcome: first issue's diagnostics, one line, at most 200 characters. */
function reasonOf (status: number, body: Buffer | undefined): string {
  let parsed: unknown
  try { parsed = JSON.parse(body?.toString('utf8') ?? '') } catch {}
  const issue = (parsed as { resourceType?: unknown, issue?: unknown[] } | undefined)?.issue?.[0] as
    { diagnostics?: unknown, details?: { text?: unknown }, code?: unknown } | undefined
  const text = [issue?.diagnostics, issue?.details?.text, issue?.code].find((v) => typeof v === 'string' && v.trim() !== '') as string | undefined
  if (text === undefined) return `HTTP ${status}`
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim()
  return line.length > MAX_REASON_LENGTH ? line.slice(0, MAX_REASON_LENGTH - 1) + '…' : line
}

type Failure =
  | { kind: 'status', status: number, retryAfterMs: number | undefined }
  | { kind: 'rate-limited' | 'malformed' }
  | { kind: 'network' | 'timeout', cause: unknown }
type Attempt<T> = { value: T } | { kind: 'unauthorized' } | Failure
type Reader<T> = (res: Response) => Promise<{ value: T } | { kind: 'malformed' }>

function isCoded (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('HEALOW_ERR_')
}

/** Aborts and our own coded errors end the request; timeouts and socket errors are worth another try. */
function transportFailure (ctx: FhirRequestContext, err: unknown): Failure {
  if (ctx.signal?.aborted === true) throw ctx.signal.reason
  if (isCoded(err)) throw err
  return isTimeoutError(err) ? { kind: 'timeout', cause: err } : { kind: 'network', cause: err }
}

function giveUp (failure: Failure, attempts: number): Error {
  const after = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`
  const error = failure.kind === 'timeout'
    ? new UpstreamTimeoutError(`no complete answer ${after}`)
    : new UpstreamError(failure.kind === 'status'
      ? `status ${failure.status} ${after}`
      : failure.kind === 'rate-limited' ? `rate limited (429) ${after}` : failure.kind === 'malformed' ? `malformed JSON ${after}` : `connection failed ${after}`)
  Object.assign(error, { attempts })
  return 'cause' in failure ? attachHidden(error, 'cause', failure.cause) : error
}

interface Settings {
  fetch: PracticeFetch
  budget: PracticeBudget
  log: Logger | undefined
  maxAttempts: number
  baseDelayMs: number
  maxDelayMs: number
  maxResponseBytes: number
  budgetMaxWaitMs: number
  allowLoopbackHttp: boolean
}

function settingsOf (options: FhirClientOptions): Settings {
  return {
    fetch: options.fetch,
    budget: options.budget,
    log: options.log,
    maxAttempts: checkCount(options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, 'maxAttempts'),
    baseDelayMs: checkCount(options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS, 'baseDelayMs', 0),
    maxDelayMs: checkCount(options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS, 'maxDelayMs', 0),
    maxResponseBytes: checkCount(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 'maxResponseBytes'),
    budgetMaxWaitMs: checkCount(options.budgetMaxWaitMs ?? DEFAULT_BUDGET_MAX_WAIT_MS, 'budgetMaxWaitMs', 0),
    allowLoopbackHttp: options.allowLoopbackHttp === true
  }
}

function checkCount (value: number, name: string, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be a whole number of at least ${min}`)
  return value
}

async function attemptOnce<T> (s: Settings, ctx: FhirRequestContext, url: URL, accept: string, token: string, read: Reader<T>): Promise<Attempt<T>> {
  let res: Response
  try {
    res = await s.fetch(ctx.practiceId, url, { headers: { accept, authorization: `Bearer ${token}` }, signal: ctx.signal, maxWaitMs: s.budgetMaxWaitMs })
  } catch (err) {
    return transportFailure(ctx, err)
  }
  const { status } = res
  if (status >= 200 && status < 300) {
    try { return await read(res) } catch (err) { return transportFailure(ctx, err) }
  }
  const body = await readCapped(res, ERROR_BODY_BYTES).catch(() => undefined)
  if (status === 401) return { kind: 'unauthorized' }
  // PracticeFetch has already paused the practice for every process.
  if (status === 429) return { kind: 'rate-limited' }
  if (status >= 500 || status === 408) return { kind: 'status', status, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) }
  if (status >= 400) throw new FhirSearchError(status, reasonOf(status, body))
  // Redirects are not followed: the token must not travel to wherever they point.
  throw new UpstreamError(`unexpected status ${status}`)
}

async function delayFor (s: Settings, ctx: FhirRequestContext, failure: Failure, attempt: number): Promise<number> {
  if (failure.kind === 'rate-limited') {
    // Healow blocks the rest of the calendar minute and sends no Retry-After.
    const paused = await s.budget.pausedFor(ctx.practiceId)
    if (paused > 0) return paused + Math.floor(Math.random() * PAUSE_JITTER_MS)
  }
  const hinted = failure.kind === 'status' ? failure.retryAfterMs : undefined
  if (hinted !== undefined) return Math.min(hinted, s.maxDelayMs)
  // Exponential backoff with full jitter.
  return Math.floor(Math.random() * Math.min(s.maxDelayMs, s.baseDelayMs * 2 ** (attempt - 1)))
}

async function pause (ctx: FhirRequestContext, delayMs: number): Promise<void> {
  try {
    await sleep(delayMs, undefined, ctx.signal === undefined ? undefined : { signal: ctx.signal })
  } catch (err) {
    if (ctx.signal?.aborted === true) throw ctx.signal.reason
    throw err
  }
}

/** One request with its retries: 401 refreshes once, 429/5xx/resets/timeouts/malformed JSON back off up to maxAttempts. */
async function request<T> (s: Settings, ctx: FhirRequestContext, url: URL, accept: string, read: Reader<T>): Promise<T> {
  let token = await ctx.getAccessToken()
  let refreshed = false
  let attempt = 0
  for (;;) {
    ctx.signal?.throwIfAborted()
    const result = await attemptOnce(s, ctx, url, accept, token, read)
    if ('value' in result) return result.value
    if (result.kind === 'unauthorized') {
      // RFC 6750 §3.1 invalid_token: refresh once; a fresh token refused too means the grant is gone.
      if (refreshed) throw new ReauthRequiredError('the practice refused a freshly refreshed access token')
      refreshed = true
      token = await ctx.onUnauthorized()
      continue
    }
    attempt++
    if (attempt >= s.maxAttempts) throw giveUp(result, attempt)
    const delayMs = await delayFor(s, ctx, result, attempt)
    s.log?.warn({ practiceId: ctx.practiceId, attempt, failure: result.kind, status: 'status' in result ? result.status : undefined, delayMs }, 'fhir request failed, retrying')
    await pause(ctx, delayMs)
  }
}

function jsonReader (maxBytes: number): Reader<{ status: number, body: unknown }> {
  return async (res) => {
    const data = await readCapped(res, maxBytes)
    // The same body would come back on a retry: too large is final.
    if (data === undefined) throw new UpstreamError(`response larger than ${maxBytes} bytes`)
    try {
      return { value: { status: res.status, body: JSON.parse(data.toString('utf8')) as unknown } }
    } catch {
      return { kind: 'malformed' }
    }
  }
}

function binaryReader (maxBytes: number): Reader<BinaryResult> {
  return async (res) => {
    const declared = Number(res.headers.get('content-length') ?? NaN)
    const data = await readCapped(res, maxBytes)
    if (data === undefined) return { value: Number.isFinite(declared) && declared > maxBytes ? { tooLarge: true, size: declared } : { tooLarge: true } }
    return { value: { contentType: res.headers.get('content-type') ?? 'application/octet-stream', data } }
  }
}

/** Builds the client; one per process is enough (it holds no per-practice state). Throws RangeError on bad options. */
export function createFhirClient (options: FhirClientOptions): FhirClient {
  const s = settingsOf(options)
  const readJson = jsonReader(s.maxResponseBytes)
  return {
    async getJson (ctx, target) {
      return await request(s, ctx, resolveFhirUrl(ctx.baseUrl, target, s.allowLoopbackHttp), FHIR_ACCEPT, readJson)
    },
    async getBinary (ctx, target, maxBytes) {
      const url = resolveFhirUrl(ctx.baseUrl, target, s.allowLoopbackHttp)
      // Any type but FHIR JSON: the raw bytes, not a base64 Binary resource (FHIR R4 Binary, "Serialization").
      return await request(s, ctx, url, '*/*', binaryReader(checkCount(maxBytes, 'maxBytes', 0)))
    }
  }
}
