import type { Redis } from 'ioredis'
import type { Test } from 'tap'
import { createFhirClient, type FhirClient, type FhirClientOptions, type FhirRequestContext } from '../../core/fhir-client.js'
import { createHttpAgent, createPracticeFetch, type PracticeFetch } from '../../core/http.js'
import { createKeys, type Keys } from '../../core/keys.js'
import { createPracticeBudget, type PracticeBudget } from '../../core/practice-budget.js'
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/index.js'
import { useRedis } from './redis.js'

/** High enough that our own budget never slows a test down; tests of the budget pass their own. */
export const TEST_LIMIT_PER_MINUTE = 10_000

export interface UsePracticeFetchOptions {
  /** The practice budget's calls per minute (default `TEST_LIMIT_PER_MINUTE`). */
  limitPerMinute?: number
  /** Per-request timeout of the practice fetch (its own default when left out). */
  timeoutMs?: number
  /** Replaces the Redis budget before the fetch and client see it (e.g. to shorten a 429 pause). */
  wrapBudget?: (budget: PracticeBudget) => PracticeBudget
}

export interface TestPracticeFetch {
  fetch: PracticeFetch
  budget: PracticeBudget
  /** The test's Redis client (closed on teardown by `useRedis`). */
  redis: Redis
  keys: Keys
}

/**
 * A practice fetch over a budget on this test's own Redis prefix, through an
 * undici agent that is closed on teardown.
 */
export async function usePracticeFetch (t: Test, options: UsePracticeFetchOptions = {}): Promise<TestPracticeFetch> {
  const { client: redis, keyPrefix } = await useRedis(t)
  const keys = createKeys(keyPrefix)
  const shared = createPracticeBudget({ redis, keys, limitPerMinute: options.limitPerMinute ?? TEST_LIMIT_PER_MINUTE })
  const budget = options.wrapBudget?.(shared) ?? shared
  const agent = createHttpAgent()
  t.teardown(async () => { await agent.close() })
  return { fetch: createPracticeFetch({ budget, agent, timeoutMs: options.timeoutMs }), budget, redis, keys }
}

export type UseFhirClientOptions = UsePracticeFetchOptions & Partial<Omit<FhirClientOptions, 'fetch' | 'budget'>>

export interface TestFhirClient extends TestPracticeFetch {
  client: FhirClient
}

/**
 * A FHIR client for a test: `usePracticeFetch` plus `createFhirClient` with
 * loopback http allowed (the sandbox and local servers are http on
 * 127.0.0.1); every other client option is passed through as given.
 */
export async function useFhirClient (t: Test, options: UseFhirClientOptions = {}): Promise<TestFhirClient> {
  const { limitPerMinute, timeoutMs, wrapBudget, ...clientOptions } = options
  const practice = await usePracticeFetch(t, { limitPerMinute, timeoutMs, wrapBudget })
  const client = createFhirClient({ fetch: practice.fetch, budget: practice.budget, allowLoopbackHttp: true, ...clientOptions })
  return { ...practice, client }
}

export interface FixedTokenOptions {
  /** What a 401 does; by default it fails the request, since these tests expect none. */
  onUnauthorized?: (token: string) => Promise<string>
}

async function refuseUnauthorized (): Promise<string> {
  throw new Error('no 401 expected')
}

/** A request context for the sandbox practice that always presents `token`. */
export function fixedTokenContext (sandbox: Sandbox, token: string, options: FixedTokenOptions = {}): FhirRequestContext {
  const onUnauthorized = options.onUnauthorized
  return {
    practiceId: sandbox.practiceCode,
    baseUrl: sandbox.fhirBaseUrl,
    getAccessToken: async () => token,
    onUnauthorized: onUnauthorized === undefined ? refuseUnauthorized : async () => await onUnauthorized(token)
  }
}

export interface SandboxContext {
  sandbox: Sandbox
  ctx: FhirRequestContext
  /** The access token the sandbox issued for its default patient. */
  token: string
}

/** Starts a sandbox practice (closed on teardown), mints a token and wraps it in `fixedTokenContext`. */
export async function useSandboxContext (t: Test, sandboxOptions: SandboxOptions = {}, options: FixedTokenOptions = {}): Promise<SandboxContext> {
  const sandbox = await startSandbox(sandboxOptions)
  t.teardown(async () => { await sandbox.close() })
  const { access_token: token } = await sandbox.issueTokens()
  return { sandbox, ctx: fixedTokenContext(sandbox, token, options), token }
}
