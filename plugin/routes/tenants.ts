import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT } from '../../core/tenant-search.js'
import type { RouteDeps } from '../deps.js'

const querySchema = z.object({
  q: z.string().max(200).default(''),
  limit: z.coerce.number().int().min(1).max(MAX_SEARCH_LIMIT).default(DEFAULT_SEARCH_LIMIT)
})

/** GET /tenants?q=&limit=: ranked search of the practice directory. */
const tenantRoutes: FastifyPluginAsyncZod<{ deps: RouteDeps }> = async (fastify, { deps }) => {
  const { directory } = deps.core
  fastify.get('/tenants', { schema: { querystring: querySchema } }, async (request) => {
    const { q, limit } = request.query
    return {
      total: directory.size,
      tenants: directory.search(q, limit).map((t) => ({ id: t.id, name: t.name, url: t.url }))
    }
  })
}

export default tenantRoutes
