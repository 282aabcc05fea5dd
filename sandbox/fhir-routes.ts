import { setTimeout as sleep } from 'node:timers/promises'
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { READ_TYPES, SEARCH_TYPES } from './catalog.js'
import { fhirBasePath, scopeAllows, type SandboxContext } from './context.js'
import { fhirHeaders, sendFhir, sendOutcome } from './fhir-reply.js'
import { search, unhandledParams } from './fhir-search.js'
import type { Grant } from './oauth-state.js'
import type { FaultKind } from './traffic.js'

const SEARCHABLE = new Set<string>([...SEARCH_TYPES, 'Patient', 'Provenance'])
const READABLE = new Set<string>([...SEARCH_TYPES, ...READ_TYPES])
const KNOWN = new Set<string>([...SEARCHABLE, ...READABLE])

type Params = { type: string, id?: string }
type Admitted = { grant: Grant, fault: FaultKind | undefined }

/**
 * Everything a FHIR resource request goes through before its handler:
 * injected latency and faults (a reset or a 503 come before any check, like
 * an outage), then the bearer token, the type, and the token's scopes.
 */
async function admit (ctx: SandboxContext, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<Admitted | undefined> {
  const { type } = request.params
  if (KNOWN.has(type)) ctx.traffic.countType(type)
  const { delayMs, kind } = ctx.traffic.nextFault()
  if (delayMs > 0) await sleep(delayMs)
  if (kind === 'reset') {
    reply.hijack()
    request.raw.socket.resetAndDestroy()
    return undefined
  }
  if (kind === 'unavailable') {
    sendOutcome(reply, 503, 'Service Unavailable (sandbox fault)', 'transient')
    return undefined
  }
  const header = request.headers.authorization ?? ''
  const grant = /^Bearer [A-Za-z0-9\-._~+/]+=*$/i.test(header) ? ctx.oauth.checkAccess(header.slice(7)) : undefined
  if (grant === undefined) {
    sendOutcome(reply, 401, 'Authentication failed: missing, unknown or expired access token', 'login', { 'www-authenticate': 'Bearer error="invalid_token"' })
    return undefined
  }
  if (!KNOWN.has(type)) {
    sendOutcome(reply, 404, `Unknown resource type '${type}'`, 'not-supported')
    return undefined
  }
  const scoped = type === 'Provenance' || scopeAllows(grant.scope, type) || (type === 'Binary' && scopeAllows(grant.scope, 'DocumentReference'))
  if (!scoped) {
    sendOutcome(reply, 403, `Access denied: the token has no read scope for ${type}`, 'forbidden')
    return undefined
  }
  return { grant, fault: kind }
}

async function searchRoute (ctx: SandboxContext, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<FastifyReply> {
  const admitted = await admit(ctx, request, reply)
  if (admitted === undefined) return reply
  const { type } = request.params
  const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : ''
  if (!SEARCHABLE.has(type)) return sendOutcome(reply, 400, unhandledParams([...new Set(new URLSearchParams(query).keys())]))
  const result = search(ctx, type, query, admitted.grant.patientIndex)
  if ('status' in result) return sendOutcome(reply, result.status, result.diagnostics, result.code)
  return sendFhir(reply, 200, result.bundle, { lastModifiedMs: ctx.options.now(), ...(admitted.fault === undefined ? {} : { fault: admitted.fault }) })
}

async function readRoute (ctx: SandboxContext, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<FastifyReply> {
  const admitted = await admit(ctx, request, reply)
  if (admitted === undefined) return reply
  const { type, id = '' } = request.params
  if (!READABLE.has(type)) return sendOutcome(reply, 400, `Invalid request: ${type} is not readable by id here`)
  if (type === 'Binary') return sendBinary(ctx, request, reply, admitted.grant)
  const found = ctx.store.read(type, id)
  if (found === undefined) return sendOutcome(reply, 404, `Resource ${type}/${id} is not known`, 'not-found')
  if (found.owner !== undefined && found.owner !== admitted.grant.patientIndex) {
    return sendOutcome(reply, 403, 'Access denied: the resource belongs to another patient', 'forbidden')
  }
  const meta = found.resource.meta as { lastUpdated: string }
  return sendFhir(reply, 200, found.resource, {
    lastModifiedMs: Date.parse(meta.lastUpdated),
    headers: { 'content-location': `/r4/*/${ctx.options.practiceCode}/${type}/${id}` },
    ...(admitted.fault === undefined ? {} : { fault: admitted.fault })
  })
}

/** Raw bytes with the attachment's type; a Binary resource (base64) when FHIR JSON is asked for. */
async function sendBinary (ctx: SandboxContext, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, grant: Grant): Promise<FastifyReply> {
  const id = request.params.id ?? ''
  const found = ctx.store.readBinary(id)
  if (found === undefined) return sendOutcome(reply, 404, `Resource Binary/${id} is not known`, 'not-found')
  if (found.owner !== grant.patientIndex) return sendOutcome(reply, 403, 'Access denied: the resource belongs to another patient', 'forbidden')
  const { content } = found
  if (/fhir/i.test(request.headers.accept ?? '')) {
    const data = await collect(content.open())
    return sendFhir(reply, 200, { resourceType: 'Binary', id, contentType: content.contentType, data: data.toString('base64') })
  }
  const headers = { ...fhirHeaders(), 'content-type': content.contentType, 'content-length': String(content.size) }
  return await reply.code(200).headers(headers).send(content.open())
}

async function collect (body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** FHIR R4 reads and searches under `/fhir/r4/{practice code}`. */
export function registerFhir (app: FastifyInstance, ctx: SandboxContext): void {
  const base = fhirBasePath(ctx.options.practiceCode)
  app.get<{ Params: Params }>(`${base}/:type`, async (request, reply) => await searchRoute(ctx, request, reply))
  app.get<{ Params: Params }>(`${base}/:type/:id`, async (request, reply) => await readRoute(ctx, request, reply))
}
