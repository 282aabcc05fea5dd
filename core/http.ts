import { Agent, Headers, fetch as undiciFetch, type RequestInit, type Response } from 'undici'
import type { PracticeBudget } from './practice-budget.js'

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** Interactive calls (authorize, callback, proxy) wait this long for the shared budget at most. */
export const DEFAULT_INTERACTIVE_BUDGET_WAIT_MS = 5_000
export const USER_AGENT = 'fastify-healow'

/** One keep-alive pool per process for every practice call. */
export function createHttpAgent (options: { connectTimeoutMs?: number } = {}): Agent {
  return new Agent({
    connect: { timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS },
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: DEFAULT_REQUEST_TIMEOUT_MS,
    bodyTimeout: DEFAULT_REQUEST_TIMEOUT_MS
  })
}

export interface PracticeFetchOptions {
  budget: PracticeBudget
  agent: Agent
  /** How long a call may wait for the practice's budget before failing. */
  maxWaitMs?: number
  timeoutMs?: number
}

export interface PracticeRequestInit extends Omit<RequestInit, 'dispatcher'> {
  /** Overrides the default budget wait for this call. */
  maxWaitMs?: number
}

/** A fetch bound to one practice's budget. */
export type PracticeFetch = (practiceId: string, url: string | URL, init?: PracticeRequestInit) => Promise<Response>

/**
 * Every request to a practice goes through here: it first takes a call from
 * the practice's shared budget (Healow counts 250 per minute per practice
 * code across the whole app), and a 429 pauses the practice for every
 * process until the next minute, since Healow blocks the rest of it.
 */
export function createPracticeFetch (options: PracticeFetchOptions): PracticeFetch {
  const { budget, agent } = options
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  return async (practiceId, url, init = {}) => {
    const { maxWaitMs, signal, ...rest } = init
    const timeout = AbortSignal.timeout(timeoutMs)
    const combined = signal != null ? AbortSignal.any([signal, timeout]) : timeout
    await budget.acquire(practiceId, { maxWaitMs: maxWaitMs ?? options.maxWaitMs ?? DEFAULT_INTERACTIVE_BUDGET_WAIT_MS, signal: combined })
    const headers = new Headers(rest.headers)
    if (!headers.has('user-agent')) headers.set('user-agent', USER_AGENT)
    const response = await undiciFetch(url, { ...rest, headers, signal: combined, dispatcher: agent, redirect: 'manual' })
    if (response.status === 429) await budget.pause(practiceId)
    return response
  }
}

/** True for the errors a timeout or abort produces. */
export function isTimeoutError (err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' ||
    (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT' || (err as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT' ||
    (err.cause instanceof Error && isTimeoutError(err.cause)))
}
