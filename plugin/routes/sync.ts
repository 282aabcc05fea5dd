import type { ServerResponse } from 'node:http'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { NotFoundError, ReauthRequiredError } from '../../core/errors.js'
import { requestManualSync } from '../../core/manual-sync.js'
import type { RouteDeps } from '../deps.js'
import { errorBody } from '../errors.js'
import { createSyncEventHub, type SyncEvent } from '../sync-events.js'
import { connectionIdParams, describeConnection, needsReauth } from './connections.js'

/** Proxies and load balancers drop idle streams; a comment line every 15 s keeps them open. */
const KEEP_ALIVE_MS = 15_000

/** POST /connections/:id/sync (manual sync) and GET /connections/:id/events (live progress). */
const syncRoutes: FastifyPluginAsyncZod<{ deps: RouteDeps }> = async (fastify, { deps }) => {
  const { core, resolveUserId } = deps
  const hub = createSyncEventHub(core)
  const streams = new Map<ServerResponse, () => void>()
  // Open streams would hold the server's close forever: end them first.
  fastify.addHook('preClose', async () => {
    for (const [stream, cleanup] of streams) {
      cleanup()
      stream.end()
    }
  })
  fastify.addHook('onClose', async () => { await hub.close() })

  fastify.post('/connections/:id/sync', { schema: { params: connectionIdParams } }, async (request, reply) => {
    const userId = await resolveUserId(request, reply)
    const connection = await core.connections.getOwned(userId, request.params.id)
    if (connection === undefined) throw new NotFoundError('Connection')
    // The connection alone decides; the full status (schedule, last sync) would be two more reads.
    const reason = needsReauth(connection)
    if (reason !== undefined) throw new ReauthRequiredError(reason)
    const answer = await requestManualSync(core, connection.id)
    if (answer.kind === 'too-soon') {
      const seconds = Math.ceil(answer.retryAfterMs / 1000)
      return await reply.code(429).header('retry-after', String(seconds))
        .send(errorBody(429, 'HEALOW_ERR_SYNC_TOO_SOON', `A manual sync ran recently; the next may start in ${seconds} seconds`))
    }
    request.log.info({ connectionId: connection.id, jobId: answer.jobId, existing: answer.existing }, 'manual sync requested')
    return await reply.code(202).send({ jobId: answer.jobId, existing: answer.existing })
  })

  // Server-sent events by hand: the format is a few lines of text (HTML
  // Living Standard §9.2) and the stream must outlive Fastify's reply cycle.
  fastify.get('/connections/:id/events', { schema: { params: connectionIdParams } }, async (request, reply) => {
    const userId = await resolveUserId(request, reply)
    const connection = await core.connections.getOwned(userId, request.params.id)
    if (connection === undefined) throw new NotFoundError('Connection')
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    const send = (event: string, data: unknown): void => { raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) }
    const unsubscribe = hub.subscribe(connection.id, (event: SyncEvent) => {
      send(event.type, { jobId: event.jobId, ...event.data })
    })
    const timer = setInterval(() => { raw.write(': keep-alive\n\n') }, KEEP_ALIVE_MS)
    const cleanup = (): void => {
      clearInterval(timer)
      unsubscribe()
      streams.delete(raw)
    }
    streams.set(raw, cleanup)
    // Whichever side ends first (the browser leaves, or the server closes).
    request.raw.once('close', cleanup)
    raw.once('close', cleanup)
    send('status', await describeConnection(core, connection))
  })
}

export default syncRoutes
