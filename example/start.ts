import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import { DEFAULT_PORT, resolveConfig, type HealowConfig, type HealowOptions } from '../core/config.js'
import type { Tenant } from '../core/directory.js'
import { LOG_REDACT_PATHS } from '../core/logging.js'
import { isLoopbackHost } from '../core/net.js'
import fastifyHealow, { type FastifyHealowOptions } from '../plugin/index.js'
import { startSandbox, type Sandbox, type SandboxOptions } from '../sandbox/index.js'
import { startWorker } from '../worker/start.js'
import { exposeLoopbackPort } from './expose.js'
import { findFreePort, findRedis, redactRedisUrl, type FoundRedis } from './redis.js'
import { exampleRoutes } from './routes.js'
import { SANDBOX_KEY_PREFIX, clearSandboxKeys } from './sandbox-keys.js'

/** Where a private redis-server keeps its data (git-ignored). */
export const DEFAULT_REDIS_DATA_DIR = fileURLToPath(new URL('../.data/redis/', import.meta.url))

export interface StartExampleOptions {
  /** Settings as `readEnv()` returns them (the entry passes the environment); overridden by the fields below. */
  settings?: HealowOptions
  /** Port to listen on; 0 picks a free one. */
  port?: number
  host?: string
  redisUrl?: string
  keyPrefix?: string
  /** `inline` (default) runs the sync worker in this process; `separate` expects `npm run worker` beside it. */
  worker?: 'inline' | 'separate'
  /** Options of the built-in sandbox practice (sandbox mode only); `autoApprove` is false by default. */
  sandbox?: SandboxOptions
  /** Where log lines go (pino JSON); standard output by default. */
  logStream?: DestinationStream
  /** Data directory of a private redis-server, when one is started. */
  redisDataDir?: string
}

export interface ExampleHost {
  /** The URL to open (PUBLIC_URL). */
  url: string
  app: FastifyInstance
  /** The configuration the plugin and the worker run with. */
  config: HealowConfig
  /** The in-process sandbox practice, in sandbox mode. */
  sandbox: Sandbox | undefined
  workerRunning: boolean
  /** Closes the host (and the plugin), the worker, the sandbox and a private Redis, each even if one before failed. */
  close: () => Promise<void>
}

type Closer = { name: string, close: () => Promise<void> }

function blank (value: unknown): boolean {
  return value === undefined || value === null || String(value).trim() === ''
}

/** The plugin takes everything but the process settings (Fastify reserves `logLevel`). */
function pluginOptions (settings: HealowOptions): FastifyHealowOptions {
  const { port: _port, host: _host, logLevel: _logLevel, workerConcurrency: _concurrency, ...rest } = settings
  return rest
}

async function closeAll (closers: Closer[], log: FastifyBaseLogger | undefined): Promise<void> {
  for (const { name, close } of [...closers].reverse()) {
    try {
      await close()
    } catch (err) {
      log?.error({ err: { message: (err as Error).message }, step: name }, 'shutdown step failed')
    }
  }
}


/** Settings with what the example host decides itself: the port, and in sandbox mode the public URL. */
async function baseSettings (options: StartExampleOptions): Promise<HealowOptions> {
  const settings: HealowOptions = { ...options.settings }
  if (options.host !== undefined) settings.host = options.host
  if (options.redisUrl !== undefined) settings.redisUrl = options.redisUrl
  if (options.keyPrefix !== undefined) settings.keyPrefix = options.keyPrefix
  const asked = options.port ?? (blank(settings.port) ? DEFAULT_PORT : Number(settings.port))
  // Port 0 must be known before listening: the public URL and the redirect URL contain it.
  const port = asked === 0 ? await findFreePort() : asked
  settings.port = Number.isInteger(port) ? port : settings.port
  if (blank(settings.clientId) && blank(settings.publicUrl)) {
    settings.publicUrl = `http://127.0.0.1:${Number.isInteger(port) && port > 0 ? port : DEFAULT_PORT}`
  }
  return settings
}

interface SandboxPractice {
  sandbox: Sandbox
  extraTenants: Tenant[]
  /** What the plugin and the worker are given instead of the sandbox-mode settings. */
  overrides: HealowOptions
}

/**
 * Starts the sandbox practice and says how the plugin reaches it. In a
 * container (HOST=0.0.0.0) the browser reaches its sign-in page on the next
 * port, published too (see expose.ts).
 */
async function startSandboxPractice (first: HealowConfig, options: StartExampleOptions, closers: Closer[]): Promise<SandboxPractice> {
  const exposed = !isLoopbackHost(first.host)
  const sandbox = await startSandbox({ autoApprove: false, ...(exposed ? { port: first.port + 1 } : {}), ...options.sandbox })
  closers.push({ name: 'sandbox', close: sandbox.close })
  if (exposed) {
    const forward = await exposeLoopbackPort(Number(new URL(sandbox.origin).port))
    closers.push({ name: 'sandbox forwarding', close: forward.close })
  }
  return {
    sandbox,
    extraTenants: [{ id: sandbox.practiceCode, name: sandbox.practiceName, url: sandbox.fhirBaseUrl, authorize: sandbox.authorizeUrl, token: sandbox.tokenUrl }],
    // The same ephemeral key the first resolution made: another resolution would make a new one.
    overrides: {
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      sandbox: true,
      publicUrl: first.publicUrl,
      // Cookie secrets derive from the key, so they stay the same too.
      encryptionKey: first.encryptionKeys.map((k) => k.key.toString('base64'))
    }
  }
}

function createApp (config: HealowConfig, logStream: DestinationStream | undefined): FastifyInstance {
  return Fastify({
    logger: {
      level: config.logLevel,
      redact: [...LOG_REDACT_PATHS],
      ...(logStream !== undefined ? { stream: logStream } : {})
    },
    // Server-sent event streams stay open; closing must not wait for browsers to leave.
    forceCloseConnections: true
  })
}

function logRedis (log: FastifyBaseLogger, redis: FoundRedis): void {
  const own = redis.privateRedis
  if (own === undefined) {
    log.info({ redisUrl: redactRedisUrl(redis.url) }, 'using Redis')
    return
  }
  if (own.stoppedLeftover) log.warn({ dataDir: own.dataDir }, 'stopped a private redis-server an earlier run left running')
  log.info({ redisUrl: own.url, dataDir: own.dataDir }, 'no Redis on 127.0.0.1:6379: started a private redis-server for this run (append-only file on; stopped on exit)')
}

/**
 * Starts the example host: Redis (found or started), the sandbox practice
 * when no client id is set, a Fastify app with the plugin and the status
 * page, and the sync worker in this process unless `worker: 'separate'`.
 * Throws `ConfigError` or `RedisUnavailableError` with a message fit to print.
 */
export async function startExample (options: StartExampleOptions = {}): Promise<ExampleHost> {
  const settings = await baseSettings(options)
  const { config: first, warnings } = resolveConfig(settings)
  const closers: Closer[] = []
  let log: FastifyBaseLogger | undefined
  try {
    const redis = await findRedis({ redisUrl: blank(settings.redisUrl) ? undefined : first.redisUrl, dataDir: options.redisDataDir ?? DEFAULT_REDIS_DATA_DIR })
    if (redis.privateRedis !== undefined) closers.push({ name: 'private redis', close: redis.privateRedis.stop })
    const practice = first.sandbox ? await startSandboxPractice(first, options, closers) : undefined
    // Sandbox data is of this run only: its own prefix, cleared of earlier runs (unless a prefix was chosen).
    const sandboxPrefix = first.sandbox && blank(settings.keyPrefix)
    const cleared = sandboxPrefix ? await clearSandboxKeys(redis.url) : 0
    const effective: HealowOptions = { ...settings, redisUrl: redis.url, ...(sandboxPrefix ? { keyPrefix: SANDBOX_KEY_PREFIX } : {}), ...practice?.overrides }
    const { config } = resolveConfig(effective)
    const extraTenants = practice?.extraTenants

    const app = createApp(config, options.logStream)
    log = app.log
    for (const warning of warnings) app.log.warn(warning)
    logRedis(app.log, redis)
    if (cleared > 0) app.log.info({ keys: cleared, keyPrefix: SANDBOX_KEY_PREFIX }, 'cleared what an earlier sandbox run left in Redis')
    // Closed in reverse: the host (and the plugin) first, then the worker, the sandbox, a private Redis.
    const hostCloser = { name: 'host', close: async () => { await app.close() } }
    closers.push(hostCloser)
    await app.register(fastifyHealow, { ...pluginOptions(effective), extraTenants })
    await app.register(exampleRoutes, {
      pluginPrefix: config.prefix,
      publicUrl: config.publicUrl,
      sandboxTenant: practice !== undefined ? { id: practice.sandbox.practiceCode, name: practice.sandbox.practiceName } : undefined
    })

    const workerRunning = options.worker !== 'separate' || first.sandbox
    if (options.worker === 'separate' && first.sandbox) {
      app.log.warn('sandbox mode: the worker runs in this process anyway (a separate worker could not read this run\'s random encryption key nor reach the in-process sandbox practice)')
    }
    if (workerRunning) {
      const worker = await startWorker({ config, log: app.log.child({ component: 'worker' }), extraTenants })
      closers.splice(closers.indexOf(hostCloser), 0, { name: 'worker', close: worker.close })
    } else {
      app.log.info('HEALOW_WORKER=separate: syncs run in `npm run worker` processes; start at least one')
    }

    await app.listen({ host: config.host, port: config.port })
    if (practice !== undefined) {
      app.log.info({ practice: practice.sandbox.practiceName, practiceUrl: practice.sandbox.fhirBaseUrl }, 'no HEALOW_CLIENT_ID: using the built-in sandbox practice (synthetic records)')
    }
    app.log.info({ url: config.publicUrl }, `ready: open ${config.publicUrl} in a browser`)
    let closing: Promise<void> | undefined
    const close = async (): Promise<void> => { await (closing ??= closeAll(closers, log)) }
    return { url: config.publicUrl, app, config, sandbox: practice?.sandbox, workerRunning, close }
  } catch (err) {
    await closeAll(closers, log)
    throw err
  }
}
