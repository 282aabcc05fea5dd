import type { FastifyReply, FastifyRequest } from 'fastify'
import type { HealowCore } from '../core/context.js'
import type { CookieSigner } from './user.js'

/** What every route group receives from the plugin entry. */
export interface RouteDeps {
  core: HealowCore
  signer: CookieSigner
  secureCookies: boolean
  resolveUserId: (request: FastifyRequest, reply: FastifyReply) => Promise<string>
}
