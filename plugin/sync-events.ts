import { EventEmitter } from 'node:events'
import { Job, QueueEvents } from 'bullmq'
import { Redis } from 'ioredis'
import type { HealowCore } from '../core/context.js'
import { QUEUES, bullPrefix } from '../core/queue.js'

/** What the events route forwards, per connection. */
export type SyncEvent =
  | { type: 'progress', jobId: string, data: Record<string, unknown> }
  | { type: 'done', jobId: string, data: Record<string, unknown> }

export interface SyncEventHub {
  subscribe (connectionId: string, listener: (event: SyncEvent) => void): () => void
  close (): Promise<void>
}

/**
 * One BullMQ QueueEvents reader per host instance (it holds a blocking Redis
 * connection), started on the first subscriber, fanned out by connection id.
 * Progress payloads carry the connection id; for completion and failure the
 * job is looked up once.
 */
export function createSyncEventHub (core: HealowCore): SyncEventHub {
  const emitter = new EventEmitter()
  emitter.setMaxListeners(0)
  let events: QueueEvents | undefined
  let connection: Redis | undefined

  async function connectionOf (jobId: string): Promise<string | undefined> {
    const job = await Job.fromId(core.syncQueue, jobId)
    return job?.data.connectionId
  }

  function start (): void {
    connection = new Redis(core.config.redisUrl, { maxRetriesPerRequest: null })
    connection.on('error', () => {})
    events = new QueueEvents(QUEUES.sync, { connection, prefix: bullPrefix(core.config.keyPrefix) })
    events.on('error', (err: Error) => { core.log.warn({ err: { message: err.message } }, 'sync events reader error') })
    events.on('progress', ({ jobId, data }) => {
      const progress = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
      if (typeof progress.connectionId === 'string') emitter.emit(progress.connectionId, { type: 'progress', jobId, data: progress })
    })
    events.on('completed', ({ jobId, returnvalue }) => {
      const value = (typeof returnvalue === 'string' ? safeParse(returnvalue) : returnvalue) as Record<string, unknown> | undefined
      const connectionId = value?.connectionId
      if (typeof connectionId === 'string') {
        emitter.emit(connectionId, { type: 'done', jobId, data: { outcome: value?.outcome, counts: value?.counts, changed: value?.changed } })
      }
    })
    events.on('failed', ({ jobId }) => {
      void connectionOf(jobId).then((connectionId) => {
        if (connectionId !== undefined) emitter.emit(connectionId, { type: 'done', jobId, data: { outcome: 'failed' } })
      }).catch(() => {})
    })
  }

  return {
    subscribe (connectionId, listener) {
      if (events === undefined) start()
      emitter.on(connectionId, listener)
      return () => { emitter.off(connectionId, listener) }
    },
    async close () {
      await events?.close().catch(() => {})
      await connection?.quit().catch(() => { connection?.disconnect() })
    }
  }
}

function safeParse (text: string): unknown {
  try { return JSON.parse(text) } catch { return undefined }
}
