import { Readable } from 'node:stream'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { NotFoundError } from '../../core/errors.js'
import { isReadType } from '../../core/resource-types.js'
import type { RouteDeps } from '../deps.js'
import { connectionIdParams } from './connections.js'

export const DEFAULT_PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000
const NDJSON_BATCH = 500
export const NDJSON_TYPE = 'application/fhir+ndjson'

const query = z.object({
  type: z.string().refine(isReadType, { error: 'is not a resource type we sync' }).optional(),
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE)
})

/**
 * GET /connections/:id/resources?type=&since=&limit=: the synced records
 * changed after the `since` cursor, oldest change first, as a FHIR searchset
 * Bundle with a `next` link, or streamed as NDJSON. The `X-Healow-Cursor`
 * header is the value to pass as `since` next time.
 */
const resourceRoutes: FastifyPluginAsyncZod<{ deps: RouteDeps }> = async (fastify, { deps }) => {
  const { core, resolveUserId } = deps
  const { records, connections, config } = core

  fastify.get('/connections/:id/resources', { schema: { params: connectionIdParams, querystring: query } }, async (request, reply) => {
    const userId = await resolveUserId(request, reply)
    const connection = await connections.getOwned(userId, request.params.id)
    if (connection === undefined) throw new NotFoundError('Connection')
    const { type, since, limit } = request.query
    reply.header('cache-control', 'no-store')

    if ((request.headers.accept ?? '').includes(NDJSON_TYPE)) {
      // One batch in memory at a time, whatever the size of the record.
      const upTo = await records.latestSeq(connection.id)
      reply.header('x-healow-cursor', String(Math.max(upTo, since)))
      const lines = async function * (): AsyncGenerator<string> {
        let cursor: number | undefined = since
        while (cursor !== undefined) {
          const page = await records.listChanges(connection.id, { since: cursor, type, limit: NDJSON_BATCH })
          for (const record of page.records) {
            if (record.seq > upTo) return
            yield `${JSON.stringify(record.resource)}\n`
          }
          cursor = page.nextSince
        }
      }
      return await reply.type(NDJSON_TYPE).send(Readable.from(lines()))
    }

    const page = await records.listChanges(connection.id, { since, type, limit })
    const last = page.records.at(-1)?.seq ?? since
    reply.header('x-healow-cursor', String(last))
    const self = new URL(`${config.publicUrl}${config.prefix}/connections/${connection.id}/resources`)
    const link = (cursor: number): string => {
      const url = new URL(self)
      if (type !== undefined) url.searchParams.set('type', type)
      url.searchParams.set('since', String(cursor))
      url.searchParams.set('limit', String(limit))
      return url.href
    }
    return await reply.type('application/fhir+json; charset=utf-8').send({
      resourceType: 'Bundle',
      type: 'searchset',
      meta: { lastUpdated: new Date().toISOString() },
      link: [
        { relation: 'self', url: link(since) },
        ...(page.nextSince !== undefined ? [{ relation: 'next', url: link(page.nextSince) }] : [])
      ],
      entry: page.records.map((r) => ({
        fullUrl: `${connection.fhirBaseUrl}/${r.type}/${r.id}`,
        resource: r.resource,
        search: { mode: 'match' }
      }))
    })
  })
}

export default resourceRoutes
