import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Connection } from '../../core/connections.js'
import type { HealowCore } from '../../core/context.js'
import { NotFoundError } from '../../core/errors.js'
import { nextScheduledAt, removeSchedule } from '../../core/sync-jobs.js'
import { readSyncStatus } from '../../core/sync-status.js'
import type { RouteDeps } from '../deps.js'

/** `:id` of every /connections/:id route. */
export const connectionIdParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, { error: 'is not a connection id' }) })

/** Why the user must sign in again before this connection can be used; undefined when it can be. */
export function needsReauth (connection: Connection): string | undefined {
  if (connection.state === 'reauth_required') return connection.reauthReason ?? 'reauth_required'
  // Public clients get no refresh token: once the access token dies, the user must sign in again.
  if (connection.mode === 'public' && connection.tokenExpiresAt <= Date.now()) return 'token_expired'
  return undefined
}

/** The status a user sees for one connection (no token, ever). */
export async function describeConnection (core: HealowCore, connection: Connection): Promise<Record<string, unknown>> {
  const now = Date.now()
  // Public clients get no refresh token: once the access token dies, the user must sign in again.
  const expired = connection.mode === 'public' && connection.tokenExpiresAt <= now
  const reauthRequired = connection.state === 'reauth_required' || expired
  const next = connection.mode === 'confidential' && !reauthRequired ? await nextScheduledAt(core.syncQueue, connection.id) : undefined
  return {
    id: connection.id,
    practice: { id: connection.practiceId, name: connection.practiceName, fhirBaseUrl: connection.fhirBaseUrl },
    patientId: connection.patientId,
    mode: connection.mode,
    reauth_required: reauthRequired,
    reauthReason: reauthRequired ? (connection.reauthReason ?? (expired ? 'token_expired' : undefined)) : undefined,
    tokenExpiresAt: new Date(connection.tokenExpiresAt).toISOString(),
    canRefresh: connection.hasRefreshToken,
    createdAt: new Date(connection.createdAt).toISOString(),
    lastSync: await readSyncStatus(core, connection.id),
    nextSyncAt: next !== undefined ? new Date(next).toISOString() : null
  }
}

/** GET /connections, GET /connections/:id, DELETE /connections/:id. Another user's connection is a 404. */
const connectionRoutes: FastifyPluginAsyncZod<{ deps: RouteDeps }> = async (fastify, { deps }) => {
  const { core, resolveUserId } = deps
  const { connections, syncQueue } = core

  fastify.get('/connections', async (request, reply) => {
    const userId = await resolveUserId(request, reply)
    const owned = await connections.listOwned(userId)
    return { connections: await Promise.all(owned.map(async (c) => await describeConnection(core, c))) }
  })

  fastify.get('/connections/:id', { schema: { params: connectionIdParams } }, async (request, reply) => {
    const userId = await resolveUserId(request, reply)
    const connection = await connections.getOwned(userId, request.params.id)
    if (connection === undefined) throw new NotFoundError('Connection')
    return await describeConnection(core, connection)
  })

  fastify.delete('/connections/:id', { schema: { params: connectionIdParams } }, async (request, reply) => {
    const userId = await resolveUserId(request, reply)
    const connection = await connections.getOwned(userId, request.params.id)
    if (connection === undefined) throw new NotFoundError('Connection')
    // Schedule first: a scheduled run must not find the connection half gone.
    await removeSchedule(syncQueue, connection.id)
    await connections.remove(connection.id)
    request.log.info({ connectionId: connection.id }, 'connection removed')
    return await reply.code(204).send()
  })
}

export default connectionRoutes
