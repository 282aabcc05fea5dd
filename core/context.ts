import { Queue } from 'bullmq'
import { Redis, type RedisOptions } from 'ioredis'
import type { Agent } from 'undici'
import type { HealowConfig } from './config.js'
import { createAuthStateStore, type AuthStateStore } from './auth-state.js'
import { createConnectionStore, type ConnectionStore } from './connections.js'
import { createKeyring, type Keyring } from './crypto.js'
import { loadDirectory, type Directory, type Tenant } from './directory.js'
import { createHttpAgent, createPracticeFetch, type PracticeFetch } from './http.js'
import { createKeys, type Keys } from './keys.js'
import { createOAuthClient, type OAuthClient } from './oauth.js'
import { createPracticeBudget, type PracticeBudget } from './practice-budget.js'
import { QUEUES, bullPrefix, type SyncJobData } from './queue.js'
import { createRecordStore, type RecordStore } from './record-store.js'
import { createTokenManager, type TokenManager } from './token-manager.js'

/** The logger shape core needs (pino's, or a test double that records calls). */
export interface Logger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
  debug: (obj: object, msg?: string) => void
  child?: (bindings: object) => Logger
}

/** Everything the plugin and the worker share, built once per process. */
export interface HealowCore {
  config: HealowConfig
  log: Logger
  redis: Redis
  keys: Keys
  keyring: Keyring
  budget: PracticeBudget
  agent: Agent
  fetch: PracticeFetch
  oauth: OAuthClient
  connections: ConnectionStore
  authStates: AuthStateStore
  directory: Directory
  syncQueue: Queue<SyncJobData>
  /** Synced records, encrypted, with a change cursor. */
  records: RecordStore
  /** Single-flight token refresh, shared by the worker and the proxy. */
  tokens: TokenManager
  /** Closes what this core created (never a Redis client the host passed in). */
  close: () => Promise<void>
}

export interface CreateCoreOptions {
  config: HealowConfig
  log: Logger
  /** A client the host owns; otherwise one is created from `config.redisUrl` and closed with the core. */
  redis?: Redis
  /** Extra practices, such as the local sandbox practice. */
  extraTenants?: Tenant[]
  directory?: Directory
  /** The budget's window; Healow's is a minute. Tests shorten it to compress time. */
  budgetWindowMs?: number
}

/**
 * Producers (the plugin) fail fast when Redis is away rather than queueing
 * commands in memory (BullMQ's production guide).
 */
export const PRODUCER_REDIS_OPTIONS: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1 }

/** Builds the shared services on one Redis connection. */
export async function createHealowCore (options: CreateCoreOptions): Promise<HealowCore> {
  const { config, log } = options
  const ownsRedis = options.redis === undefined
  const redis = options.redis ?? new Redis(config.redisUrl, { ...PRODUCER_REDIS_OPTIONS, lazyConnect: true })
  if (ownsRedis) {
    redis.on('error', (err: Error) => { log.warn({ err: { message: err.message } }, 'redis connection error') })
    await redis.connect()
  }
  const keys = createKeys(config.keyPrefix)
  const keyring = createKeyring(config.encryptionKeys)
  const budget = createPracticeBudget({ redis, keys, limitPerMinute: config.practiceRateLimit, windowMs: options.budgetWindowMs })
  const agent = createHttpAgent()
  const fetch = createPracticeFetch({ budget, agent, timeoutMs: config.upstreamTimeoutMs })
  const directory = options.directory ?? await loadDirectory({
    tenantsFile: config.tenantsFile,
    tenantsMode: config.tenantsMode,
    insecureLoopback: config.allowLoopbackHttp,
    extra: options.extraTenants,
    log
  })
  const syncQueue = new Queue<SyncJobData>(QUEUES.sync, { connection: redis, prefix: bullPrefix(config.keyPrefix) })
  syncQueue.on('error', (err: Error) => { log.warn({ err: { message: err.message } }, 'sync queue error') })

  async function close (): Promise<void> {
    // Each step runs even if an earlier one fails.
    await syncQueue.close().catch(() => {})
    await agent.close().catch(() => {})
    if (ownsRedis) await redis.quit().catch(() => { redis.disconnect() })
  }

  const oauth = createOAuthClient({ config, fetch })
  const connections = createConnectionStore({ redis, keys, keyring, keyPrefix: config.keyPrefix })
  return {
    config,
    log,
    redis,
    keys,
    keyring,
    budget,
    agent,
    fetch,
    oauth,
    connections,
    authStates: createAuthStateStore({ redis, keys, keyring }),
    records: createRecordStore({ redis, keys, keyring }),
    directory,
    syncQueue,
    tokens: createTokenManager({ connections, oauth, directory, redis, keys, log, syncQueue }),
    close
  }
}
