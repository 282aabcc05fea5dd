import fastifyCookie from '@fastify/cookie'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import type { Redis } from 'ioredis'
import { resolveConfig, type HealowOptions } from '../core/config.js'
import { createHealowCore, type HealowCore } from '../core/context.js'
import type { Directory, Tenant } from '../core/directory.js'
import { pathOnly } from '../core/logging.js'
import { handleError } from './errors.js'
import authorizeRoutes from './routes/authorize.js'
import connectionRoutes from './routes/connections.js'
import proxyRoutes from './routes/proxy.js'
import resourceRoutes from './routes/resources.js'
import syncRoutes from './routes/sync.js'
import tenantRoutes from './routes/tenants.js'
import { createCookieSigner, createUserResolver, type GetUserId } from './user.js'
import type { RouteDeps } from './deps.js'

/** Settings of the example host and the worker process, not of the plugin (Fastify reserves `logLevel`). */
type ProcessSettings = 'port' | 'host' | 'logLevel' | 'workerConcurrency'

export interface FastifyHealowOptions extends Omit<HealowOptions, ProcessSettings> {
  /** Who is asking; without it the plugin keeps its own signed device cookie. */
  getUserId?: GetUserId
  /** A Redis client the host owns (left open on close); otherwise one is made from `redisUrl`. */
  redis?: Redis
  /** Practices added in code, such as the local sandbox practice. */
  extraTenants?: Tenant[]
  /** A loaded directory (tests); otherwise loaded from the built-in list and `tenantsFile`. */
  directory?: Directory
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The plugin's shared services (connection store, queue, OAuth client...). */
    healow: HealowCore
  }
}

const healowPlugin: FastifyPluginAsync<FastifyHealowOptions> = async (fastify, options) => {
  const { getUserId, redis, extraTenants, directory, ...settings } = options
  const { config, warnings } = resolveConfig(settings)
  for (const warning of warnings) fastify.log.warn(warning)
  const core = await createHealowCore({ config, log: fastify.log, redis, extraTenants, directory })
  fastify.decorate('healow', core)
  fastify.addHook('onClose', async () => { await core.close() })

  const signer = createCookieSigner(config.cookieSecrets)
  const secureCookies = config.publicUrl.startsWith('https://')
  const deps: RouteDeps = {
    core,
    signer,
    secureCookies,
    resolveUserId: createUserResolver({ getUserId, signer, secure: secureCookies })
  }

  // Everything below is encapsulated: the host's compilers, error handler and
  // cookie settings stay as they are.
  await fastify.register(async (scope: FastifyInstance) => {
    if (!scope.hasRequestDecorator('cookies')) await scope.register(fastifyCookie)
    scope.setValidatorCompiler(validatorCompiler)
    scope.setSerializerCompiler(serializerCompiler)
    scope.setErrorHandler(handleError)
    // Log our URLs without the query: the callback's holds the authorization code.
    scope.addHook('onRoute', (route) => {
      route.logSerializers = {
        ...route.logSerializers,
        req: (req: { method: string, url: string, id?: string }) => ({ method: req.method, url: pathOnly(req.url), id: req.id })
      }
    })
    await scope.register(tenantRoutes, { deps })
    await scope.register(authorizeRoutes, { deps })
    await scope.register(connectionRoutes, { deps })
    await scope.register(syncRoutes, { deps })
    await scope.register(resourceRoutes, { deps })
    await scope.register(proxyRoutes, { deps })
  }, { prefix: config.prefix })
}

/** The fastify-healow plugin: register it once in the host. */
export const fastifyHealow = fp(healowPlugin, { name: 'fastify-healow', fastify: '5.x' })
export default fastifyHealow
export { ConfigError, readEnv, resolveConfig } from '../core/config.js'
export { LOG_REDACT_PATHS } from '../core/logging.js'
