import { createHash } from 'node:crypto'
import { pipeline } from 'node:stream'
import createError from '@fastify/error'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Connection } from '../../core/connections.js'
import { NotFoundError, ReauthRequiredError, UpstreamError } from '../../core/errors.js'
import { resolveFhirUrl } from '../../core/fhir-client.js'
import { rebaseLink } from '../../core/fhir-paging.js'
import type { RouteDeps } from '../deps.js'
import { errorBody } from '../errors.js'
import { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_PROXY_BODY_BYTES, ProxyBodyTooLargeError, createProxyBody, rewriteBundleLinks, type LinkMapper } from '../proxy/body.js'
import { createConnectionCache, type CachedConnection, type ConnectionCache } from '../proxy/connection-cache.js'
import { ProxyPathError, parseProxyTarget, upstreamHref, type ProxyTarget } from '../proxy/target.js'
import { forwardToPractice, mapTransportError, readOutcome, type UpstreamResponse } from '../proxy/upstream.js'
import { needsReauth } from './connections.js'

/** The per-user window of HEALOW_PROXY_RATE_LIMIT. */
export const PROXY_RATE_WINDOW_MS = 60_000
/** What error bodies we write are typed as (FHIR R4 JSON media type). */
const FHIR_JSON = 'application/fhir+json; charset=utf-8'

export const ProxyRateLimitError = createError<'HEALOW_ERR_PROXY_RATE_LIMIT', 429, [string]>(
  'HEALOW_ERR_PROXY_RATE_LIMIT', 'Too many proxy calls: retry in %s', 429)

/** User keys remembered at most (a hash per call otherwise); the memo is emptied when full. */
const MAX_USER_KEYS = 1_000

/** A Redis key part per user: hashed, so no host user id is written into Redis keys. */
function createUserKeys (): (userId: string) => string {
  const memo = new Map<string, string>()
  return (userId) => {
    let key = memo.get(userId)
    if (key === undefined) {
      key = `u:${createHash('sha256').update(userId).digest('base64url').slice(0, 32)}`
      if (memo.size >= MAX_USER_KEYS) memo.clear()
      memo.set(userId, key)
    }
    return key
  }
}

/** The literal route before the connection id, like `/healow/proxy/` (whatever prefix the host gave the plugin). */
function routePrefixOf (request: FastifyRequest): string {
  const route = request.routeOptions.url ?? ''
  return route.slice(0, route.indexOf(':connectionId'))
}

interface Pending {
  userId: string
  target?: ProxyTarget
  targetError?: unknown
  connection?: Promise<CachedConnection | undefined>
}

/** Bundle links rebased onto the practice base (never followed verbatim), then moved under the proxy. */
function createLinkMapper (connection: Connection, proxyBase: string): LinkMapper {
  // Worked out on the first link only: most answers are not Bundles.
  let basePath: string | undefined
  return (link) => {
    basePath ??= new URL(connection.fhirBaseUrl).pathname.replace(/\/+$/, '')
    const rebased = rebaseLink(link, connection.fhirBaseUrl)
    if (rebased === undefined) return undefined
    const suffix = rebased.pathname.slice(basePath.length)
    return `${proxyBase}${suffix === '' ? '/' : suffix}${rebased.search}`
  }
}

/** A body whose length was declared (and checked against the buffering limit); transport errors as ours. */
async function readWhole (response: UpstreamResponse): Promise<Buffer> {
  try {
    return Buffer.from(await response.body.arrayBuffer())
  } catch (err) {
    throw mapTransportError(err)
  }
}

/** Passes a 2xx/304 on with allow-listed headers, streaming and capped; errors become OperationOutcomes. */
async function sendUpstream (reply: FastifyReply, response: UpstreamResponse, method: 'GET' | 'HEAD', mapLink: LinkMapper): Promise<FastifyReply> {
  const { statusCode: status, headers } = response
  if (status >= 400) return await reply.code(status).type(FHIR_JSON).send(await readOutcome(response))
  const text = (name: string): string | undefined => typeof headers[name] === 'string' ? headers[name] : undefined
  for (const name of ['etag', 'last-modified']) {
    const value = text(name)
    if (value !== undefined) reply.header(name, value)
  }
  if (status === 304) {
    await response.body.dump().catch(() => {})
    return await reply.code(304).send()
  }
  // Redirects are not followed nor handed out: they would name the practice's URLs.
  if (status < 200 || status >= 300) {
    await response.body.dump().catch(() => {})
    throw new UpstreamError(`unexpected status ${status}`)
  }
  const encoding = text('content-encoding')
  const declared = Number(text('content-length') ?? NaN)
  if ((encoding !== undefined && encoding !== 'identity') || declared > DEFAULT_MAX_PROXY_BODY_BYTES) {
    response.body.destroy()
    if (encoding !== undefined && encoding !== 'identity') throw new UpstreamError('an encoded body that was not asked for')
    throw new ProxyBodyTooLargeError(DEFAULT_MAX_PROXY_BODY_BYTES)
  }
  const type = text('content-type') ?? 'application/octet-stream'
  const json = /json/i.test(type)
  reply.code(status).type(type)
  if (method === 'GET' && Number.isSafeInteger(declared) && declared <= DEFAULT_MAX_BUFFERED_BYTES) {
    // Nearly every read and search page: read whole, links rewritten, sent with its exact
    // length in one write, without a stream pipeline per call.
    const body = await readWhole(response)
    return await reply.send(json ? rewriteBundleLinks(body, mapLink) : body)
  }
  // A rewritten body has another length; any other body keeps the practice's.
  if (!json && Number.isSafeInteger(declared)) reply.header('content-length', declared)
  if (method === 'HEAD') {
    await response.body.dump().catch(() => {})
    return await reply.send()
  }
  const body = createProxyBody({ mapLink: json ? mapLink : undefined })
  // Errors end both streams (and so the client's response); nothing to add here.
  pipeline(response.body, body, () => {})
  return await reply.send(body)
}

interface ProxyContext {
  deps: RouteDeps
  allowLoopbackHttp: boolean
  pending: WeakMap<FastifyRequest, Pending>
  connections: ConnectionCache
}

/** One proxied call, after the user lookup and the per-user limit. */
async function handleProxy (ctx: ProxyContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { core } = ctx.deps
  const state = ctx.pending.get(request)
  // The raw URL, not the decoded params: traversal hides in what decoding produces.
  if (state?.target === undefined || state.connection === undefined) throw state?.targetError ?? new ProxyPathError('unreadable URL')
  const cached = await state.connection
  if (cached === undefined) throw new NotFoundError('Connection')
  const { connection } = cached
  const reason = needsReauth(connection)
  if (reason !== undefined) throw new ReauthRequiredError(reason)
  // Checked again on the built URL: same origin as the practice base, path under it.
  const url = resolveFhirUrl(connection.fhirBaseUrl, upstreamHref(connection.fhirBaseUrl, state.target), ctx.allowLoopbackHttp)

  const aborted = new AbortController()
  reply.raw.once('close', () => { if (!reply.raw.writableFinished) aborted.abort() })
  const method = request.method === 'HEAD' ? 'HEAD' : 'GET'
  const result = await forwardToPractice({
    core,
    connection,
    url,
    method,
    clientHeaders: request.headers,
    signal: aborted.signal,
    accessToken: cached.accessToken,
    // A refused token leaves the cache at once; the refreshed one is read on the next call.
    onTokenRefused: () => { ctx.connections.drop(connection.id) }
  })
  if (result.kind === 'budget') {
    return await reply.code(429).header('retry-after', result.retryAfterS).send(errorBody(429, 'HEALOW_ERR_PRACTICE_BUSY',
      `The practice's shared call budget is spent for now: retry in ${result.retryAfterS} s`))
  }
  if (result.kind === 'rate-limited') {
    return await reply.code(429).header('retry-after', result.retryAfterS).send(errorBody(429, 'HEALOW_ERR_PRACTICE_RATE_LIMITED',
      `The practice is refusing calls for the rest of this minute: retry in ${result.retryAfterS} s`))
  }
  request.log.debug({ connectionId: connection.id, upstreamStatus: result.response.statusCode }, 'proxied')
  const proxyBase = `${core.config.publicUrl}${routePrefixOf(request)}${connection.id}`
  return await sendUpstream(reply, result.response, method, createLinkMapper(connection, proxyBase))
}

/**
 * GET (and HEAD) /proxy/:connectionId/<FHIR path>: the browser's live view
 * of the practice (Healow sends no CORS headers). Reads and searches only,
 * on the connection's own practice base, with the server-held token; a
 * per-user limit in Redis, then the practice's shared budget (both on every
 * call). The connection and its token come from a short in-process cache
 * (see DEFAULT_CONNECTION_CACHE_TTL_MS), ownership checked on every call.
 */
const proxyRoutes: FastifyPluginAsync<{ deps: RouteDeps }> = async (fastify, { deps }) => {
  const { core, resolveUserId } = deps
  const { config, connections } = core
  const userKey = createUserKeys()
  const ctx: ProxyContext = {
    deps,
    allowLoopbackHttp: config.allowLoopbackHttp,
    pending: new WeakMap(),
    // Per plugin instance; see DEFAULT_CONNECTION_CACHE_TTL_MS for how stale it may be.
    connections: createConnectionCache({ connections })
  }
  // Changes made in this process (disconnect, reauth, new tokens) reach the cache at once;
  // other processes' changes within the TTL bound.
  const stopWatching = connections.onChange((id) => { ctx.connections.drop(id) })
  fastify.addHook('onClose', async () => { stopWatching() })

  // Runs before the rate limit (a route-level hook, so it comes after this one): its key is the
  // user. The connection lookup starts here too, so on a cache miss its Redis round trip overlaps the limit's.
  fastify.addHook('onRequest', async (request, reply) => {
    reply.header('cache-control', 'private, no-store')
    const userId = await resolveUserId(request, reply)
    const state: Pending = { userId }
    try {
      state.target = parseProxyTarget(request.raw.url ?? '', routePrefixOf(request))
      // Ownership is checked on every call, cached or not.
      const lookup = ctx.connections.getOwned(userId, state.target.connectionId)
      // Awaited by the handler; a request the limit refuses never reads it.
      lookup.catch(() => {})
      state.connection = lookup
    } catch (err) {
      state.targetError = err
    }
    ctx.pending.set(request, state)
  })
  await fastify.register(fastifyRateLimit, {
    global: false,
    // In Redis, so the per-user limit holds across every host instance.
    redis: core.redis,
    nameSpace: `${config.keyPrefix}:proxy-rate:`,
    keyGenerator: (request) => {
      const user = ctx.pending.get(request)?.userId
      return user !== undefined ? userKey(user) : `ip:${request.ip}`
    },
    errorResponseBuilder: (_request, context) => new ProxyRateLimitError(context.after)
  })

  fastify.route({
    method: ['GET', 'HEAD'],
    url: '/proxy/:connectionId/*',
    config: { rateLimit: { max: config.proxyRateLimit, timeWindow: PROXY_RATE_WINDOW_MS } },
    handler: async (request, reply) => await handleProxy(ctx, request, reply)
  })
}

export default proxyRoutes
