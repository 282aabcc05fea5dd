import { Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import type { HealowConfig } from '../core/config.js'
import { createHealowCore, type CreateCoreOptions, type HealowCore, type Logger } from '../core/context.js'
import type { Directory, Tenant } from '../core/directory.js'
import { createFhirClient } from '../core/fhir-client.js'
import { QUEUES, bullPrefix, type SyncJobData } from '../core/queue.js'
import { processSync, type SyncResult } from './sync.js'

/** DocumentReference attachments above this are not stored (the status lists them). */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

export interface StartWorkerOptions {
  config: HealowConfig
  log: Logger
  /** Practices added in code (the local sandbox practice). */
  extraTenants?: Tenant[]
  directory?: Directory
  maxAttachmentBytes?: number
  /** See {@link CreateCoreOptions.budgetWindowMs}. */
  budgetWindowMs?: number
  /** How long a crashed worker's job waits before another worker takes it back (BullMQ lock, default 60 s). */
  lockDurationMs?: number
}

export interface RunningWorker {
  core: HealowCore
  worker: Worker<SyncJobData, SyncResult>
  /** Lets the active jobs finish (or hands them back), then closes the queue and Redis, each step even if one fails. */
  close: () => Promise<void>
}

/** The one place that builds the BullMQ Worker. */
export async function startWorker (options: StartWorkerOptions): Promise<RunningWorker> {
  const { config, log } = options
  const core = await createHealowCore({ config, log, extraTenants: options.extraTenants, directory: options.directory, budgetWindowMs: options.budgetWindowMs })
  const fhir = createFhirClient({
    fetch: core.fetch, budget: core.budget, log, allowLoopbackHttp: config.allowLoopbackHttp
  })
  // Workers block on Redis: BullMQ asks for maxRetriesPerRequest null on their connection.
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null })
  connection.on('error', (err: Error) => { log.warn({ err: { message: err.message } }, 'worker redis connection error') })
  const maxAttachmentBytes = options.maxAttachmentBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES
  const lockDurationMs = options.lockDurationMs ?? 60_000
  const worker = new Worker<SyncJobData, SyncResult>(QUEUES.sync, async (job: Job<SyncJobData, SyncResult>) => {
    const jobLog = log.child?.({ jobId: job.id, connectionId: job.data.connectionId }) ?? log
    return await processSync(job, { core, fhir, maxAttachmentBytes, log: jobLog })
  }, {
    connection,
    prefix: bullPrefix(config.keyPrefix),
    concurrency: config.workerConcurrency,
    // A sync pages for minutes; the lock is renewed while it runs, and a crashed worker's job is handed back.
    lockDuration: lockDurationMs,
    stalledInterval: Math.floor(lockDurationMs / 2),
    maxStalledCount: 3
  })
  worker.on('error', (err: Error) => { log.warn({ err: { message: err.message } }, 'worker error') })
  worker.on('failed', (job, err) => {
    log.warn({ jobId: job?.id, connectionId: job?.data.connectionId, code: err.message.slice(0, 80) }, 'sync job failed')
  })
  log.info({ concurrency: config.workerConcurrency, queue: QUEUES.sync }, 'sync worker started')

  async function close (): Promise<void> {
    await worker.close().catch((err: Error) => { log.warn({ err: { message: err.message } }, 'closing the worker failed') })
    await core.close().catch(() => {})
    await connection.quit().catch(() => { connection.disconnect() })
  }
  return { core, worker, close }
}
