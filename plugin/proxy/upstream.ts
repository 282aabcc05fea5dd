import { request, type Dispatcher } from 'undici'
import type { Connection } from '../../core/connections.js'
import type { HealowCore } from '../../core/context.js'
import { ReauthRequiredError, UpstreamError, UpstreamTimeoutError, attachHidden } from '../../core/errors.js'
import { FHIR_ACCEPT } from '../../core/fhir-client.js'
import { USER_AGENT, isTimeoutError } from '../../core/http.js'
import { isExpiring } from '../../core/token-manager.js'

/** Error bodies are read only this far: enough for an OperationOutcome. */
const MAX_ERROR_BODY_BYTES = 64 * 1024
/** Conditional request headers a browser may send on: they change what comes back, never where it goes. */
const FORWARDED_REQUEST_HEADERS = ['if-none-match', 'if-modified-since'] as const
/** Without a hint (Healow sends none on its 429), wait for the next minute. */
const DEFAULT_RETRY_AFTER_S = 60

/** One answer of the practice, headers read, body not yet. */
export type UpstreamResponse = Dispatcher.ResponseData

export type ForwardResult =
  | { kind: 'response', response: UpstreamResponse }
  /** Our shared budget for the practice is spent, or the practice is paused: no call was made. */
  | { kind: 'budget', retryAfterS: number }
  /** The practice answered 429: every process now leaves it alone until the next minute. */
  | { kind: 'rate-limited', retryAfterS: number }

export interface ForwardOptions {
  core: Pick<HealowCore, 'agent' | 'budget' | 'tokens' | 'config' | 'connections'>
  connection: Connection
  url: URL
  method: 'GET' | 'HEAD'
  /** The client's request headers; only the conditional ones are read. */
  clientHeaders: Record<string, string | string[] | undefined>
  signal: AbortSignal
  /** A token already known to be good (the connection cache's); otherwise the stored one is read. */
  accessToken?: string
  /** Told when the practice refused a token with 401, before the refresh: a cache holding it drops it. */
  onTokenRefused?: (token: string) => void
}

/**
 * The upstream request headers, built from scratch: the client's Cookie and
 * Authorization (and everything else it sent) never leave this process.
 */
export function buildUpstreamHeaders (token: string, clientHeaders: ForwardOptions['clientHeaders']): Record<string, string> {
  const headers: Record<string, string> = { accept: FHIR_ACCEPT, authorization: `Bearer ${token}`, 'user-agent': USER_AGENT }
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = clientHeaders[name]
    if (typeof value === 'string' && value.length <= 256) headers[name] = value
  }
  return headers
}

function seconds (ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

/** Transport failures as our coded errors: a timeout is a 504, anything else a 502. The cause stays hidden from logs. */
export function mapTransportError (err: unknown): Error {
  const error = isTimeoutError(err) || (err as { code?: unknown } | null)?.code === 'UND_ERR_CONNECT_TIMEOUT'
    ? new UpstreamTimeoutError('no answer in time')
    : new UpstreamError('connection failed')
  return attachHidden(error, 'cause', err)
}

async function send (options: ForwardOptions, token: string): Promise<UpstreamResponse> {
  const { core, url, method, clientHeaders, signal } = options
  const timeout = core.config.upstreamTimeoutMs
  try {
    return await request(url, {
      method,
      headers: buildUpstreamHeaders(token, clientHeaders),
      dispatcher: core.agent,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal
    })
  } catch (err) {
    throw mapTransportError(err)
  }
}

/**
 * One proxied call: takes a call from the practice's shared budget (never
 * waiting: an interactive client is told when to come back), sends it with
 * the server-held token (refreshed ahead of expiry by the single-flight
 * token manager), and on a 401 refreshes once and tries again (RFC 6750
 * §3.1 invalid_token). A 429 pauses the practice for every process, since
 * Healow blocks the rest of the calendar minute.
 */
export async function forwardToPractice (options: ForwardOptions): Promise<ForwardResult> {
  const { core, connection } = options
  const practice = connection.practiceId
  let token = options.accessToken
  for (let attempt = 0; attempt < 2; attempt++) {
    if (token === undefined) {
      // The budget and the stored token in parallel: one Redis round trip less on every call.
      const [decision, stored] = await Promise.all([core.budget.take(practice), core.connections.readTokens(connection.id)])
      if (!decision.ok) return { kind: 'budget', retryAfterS: seconds(decision.retryAfterMs) }
      // Near expiry (or gone), the token manager refreshes: single-flight with the worker.
      token = stored !== undefined && !isExpiring(stored) ? stored.accessToken : await core.tokens.getAccessToken(connection)
    } else {
      // Every call to the practice takes from its shared budget, whatever else was cached.
      const decision = await core.budget.take(practice)
      if (!decision.ok) return { kind: 'budget', retryAfterS: seconds(decision.retryAfterMs) }
    }
    const response = await send(options, token)
    if (response.statusCode === 401) {
      await response.body.dump().catch(() => {})
      options.onTokenRefused?.(token)
      if (attempt > 0) break
      // Another process may have refreshed already: the token manager then hands out the stored one.
      token = await core.tokens.refreshAfterUnauthorized(connection, token)
      continue
    }
    if (response.statusCode === 429) {
      await response.body.dump().catch(() => {})
      await core.budget.pause(practice)
      const pausedMs = await core.budget.pausedFor(practice)
      return { kind: 'rate-limited', retryAfterS: pausedMs > 0 ? seconds(pausedMs) : DEFAULT_RETRY_AFTER_S }
    }
    return { kind: 'response', response }
  }
  throw new ReauthRequiredError('the practice refused a freshly refreshed access token')
}

/** A FHIR OperationOutcome for an error the practice did not describe itself. */
export function buildOutcome (diagnostics: string, code = 'exception'): Record<string, unknown> {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] }
}

/**
 * The practice's own OperationOutcome when its error body is one (read up to
 * 64 KiB), else one built from the status. Nothing else of an error body is
 * passed on.
 */
export async function readOutcome (response: UpstreamResponse): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_ERROR_BODY_BYTES) {
        response.body.destroy()
        break
      }
      chunks.push(chunk)
    }
  } catch {}
  if (size <= MAX_ERROR_BODY_BYTES) {
    try {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
      if (typeof parsed === 'object' && parsed !== null && (parsed as { resourceType?: unknown }).resourceType === 'OperationOutcome' &&
        Array.isArray((parsed as { issue?: unknown }).issue)) {
        return parsed as Record<string, unknown>
      }
    } catch {}
  }
  return buildOutcome(`The practice answered with HTTP ${response.statusCode}`)
}
