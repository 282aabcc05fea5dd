import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { singleParams, registerAuthorize } from './authorize-routes.js'
import { DEFAULT_SCOPE, buildUrls, type SandboxContext } from './context.js'
import { registerDiscovery } from './discovery.js'
import { sendOutcome } from './fhir-reply.js'
import { registerFhir } from './fhir-routes.js'
import { OAuthState, createSigningKeys } from './oauth-state.js'
import { resolveOptions, type SandboxFaults, type SandboxOptions } from './options.js'
import { createRecordStore, type ExpectedCounts, type TouchChange } from './record-store.js'
import { mintTokens, registerToken, type TokenResponse } from './token-routes.js'
import { Traffic, type SandboxCounters } from './traffic.js'

export type { SandboxCounters, RequestSeen } from './traffic.js'
export type { ExpectedCounts, TouchChange } from './record-store.js'
export type { TokenResponse } from './token-routes.js'
export type { SandboxSize } from './catalog.js'
export { OBSERVATION_CATEGORIES, CARE_TEAM_STATUSES, CARE_PLAN_CATEGORY, SEARCH_TYPES } from './catalog.js'
export { DEFAULT_SCOPE } from './context.js'
export * from './options.js'

/** A running sandbox practice: its URLs and clients, and switches for tests. */
export interface Sandbox {
  origin: string
  fhirBaseUrl: string
  authorizeUrl: string
  tokenUrl: string
  jwksUrl: string
  issuer: string
  clientId: string
  clientSecret: string
  publicClientId: string
  /** The default patient: the first one. */
  patientId: string
  patients: Array<{ id: string, name: string }>
  practiceCode: string
  practiceName: string
  /** Accepted redirect URIs; empty means any https URL and any http loopback URL. */
  redirectUris: string[]
  counters: () => SandboxCounters
  resetCounters: () => void
  /** Replaces the fault set; `{}` turns every fault off. */
  setFaults: (faults: SandboxFaults) => void
  /** What paging every search of the patient yields, per type and per Observation category / CareTeam status. */
  expectedCounts: (patientId?: string) => ExpectedCounts
  /** Mints tokens without the browser dance (same shape as the token endpoint; no faults, not counted). */
  issueTokens: (options?: { patientId?: string, scope?: string, client?: 'confidential' | 'public', nonce?: string }) => Promise<TokenResponse>
  /** Changes records: a number gives that many a new version; or `{ updated, added, category, status }`. */
  touch: (patientId: string, type: string, change: number | TouchChange) => { updated: string[], added: string[] }
  close: () => Promise<void>
}

function createApp (ctx: SandboxContext): FastifyInstance {
  // forceCloseConnections: close() must also end stalled and hanging sockets.
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 64 * 1024, routerOptions: { maxParamLength: 256 } })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const parsed = singleParams(new URLSearchParams(String(body)))
    if (parsed !== undefined) return done(null, parsed)
    done(Object.assign(new Error('a parameter is repeated'), { statusCode: 400 }), undefined)
  })
  app.addHook('onRequest', async (request, reply) => {
    if (ctx.traffic.begin(request.raw, reply.raw)) return
    // Healow sends no Retry-After: the client must wait for the next calendar minute.
    return sendOutcome(reply, 429, 'Too many requests: the practice exceeded its calls for this minute', 'throttled')
  })
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500
    if (request.url.startsWith('/oauth/')) return reply.code(status).send({ error: status < 500 ? 'invalid_request' : 'server_error', error_description: err.message })
    return sendOutcome(reply, status, err.message, status < 500 ? 'invalid' : 'exception')
  })
  app.setNotFoundHandler((request, reply) => sendOutcome(reply, 404, `Unknown path ${request.url.split('?')[0] ?? ''}`, 'not-found'))
  app.get('/', async () => ({
    practice: ctx.options.practiceName,
    fhirBaseUrl: ctx.urls.fhirBase,
    smartConfiguration: `${ctx.urls.fhirBase}/.well-known/smart-configuration`,
    authorizeUrl: ctx.urls.authorize,
    tokenUrl: ctx.urls.token,
    patients: ctx.store.patients
  }))
  registerAuthorize(app, ctx)
  registerToken(app, ctx)
  registerDiscovery(app, ctx)
  registerFhir(app, ctx)
  return app
}

/** RSA key generation takes a few hundred ms; sandboxes in one process share one key pair. */
let sharedKeys: ReturnType<typeof createSigningKeys> | undefined

/**
 * Starts a local practice that behaves like a Healow one (SMART on FHIR R4,
 * quirks included) on 127.0.0.1, port 0 unless `options.port` is set.
 */
export async function startSandbox (options: SandboxOptions = {}): Promise<Sandbox> {
  const o = resolveOptions(options)
  const ctx: SandboxContext = {
    options: o,
    store: createRecordStore({ ...o, fhirBase: () => ctx.urls.fhirBase }),
    oauth: new OAuthState(o.now),
    keys: await (sharedKeys ??= createSigningKeys()),
    traffic: new Traffic(o.now, o.rateLimit, o.faults, o.rateWindowMs),
    urls: buildUrls('http://127.0.0.1', o.practiceCode)
  }
  const app = createApp(ctx)
  await app.listen({ host: o.host, port: o.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : o.port
  ctx.urls = buildUrls(`http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`, o.practiceCode)
  return describe(ctx, app)
}

function patientIndexOf (ctx: SandboxContext, patientId: string | undefined): number {
  if (patientId === undefined) return 0
  const index = ctx.store.patientIndex(patientId)
  if (index === undefined) throw new Error(`Unknown sandbox patient ${patientId}`)
  return index
}

function describe (ctx: SandboxContext, app: FastifyInstance): Sandbox {
  const { options: o, urls, store } = ctx
  return {
    origin: urls.origin,
    fhirBaseUrl: urls.fhirBase,
    authorizeUrl: urls.authorize,
    tokenUrl: urls.token,
    jwksUrl: urls.jwks,
    issuer: urls.issuer,
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    publicClientId: o.publicClientId,
    patientId: store.patients[0]?.id ?? '',
    patients: store.patients.map((p) => ({ ...p })),
    practiceCode: o.practiceCode,
    practiceName: o.practiceName,
    redirectUris: [...o.redirectUris],
    counters: () => ctx.traffic.counters(),
    resetCounters: () => { ctx.traffic.resetCounters() },
    setFaults: (faults) => { ctx.traffic.setFaults(faults) },
    expectedCounts: (patientId) => store.expectedCounts(patientIndexOf(ctx, patientId)),
    issueTokens: async (opts = {}) => {
      const kind = opts.client ?? 'confidential'
      const grant = {
        clientId: kind === 'public' ? o.publicClientId : o.clientId,
        patientIndex: patientIndexOf(ctx, opts.patientId),
        scope: opts.scope ?? DEFAULT_SCOPE,
        ...(opts.nonce === undefined ? {} : { nonce: opts.nonce })
      }
      return await mintTokens(ctx, grant, kind, undefined)
    },
    touch: (patientId, type, change) => store.touch(patientIndexOf(ctx, patientId), type, typeof change === 'number' ? { updated: change } : change),
    close: async () => { await app.close() }
  }
}
