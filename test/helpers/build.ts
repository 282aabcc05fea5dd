import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { createDirectory, type Tenant } from '../../core/directory.js'
import { LOG_REDACT_PATHS } from '../../core/logging.js'
import fastifyHealow, { type FastifyHealowOptions } from '../../plugin/index.js'
import { startSandbox, type Sandbox } from '../../sandbox/index.js'
import type { SandboxOptions } from '../../sandbox/options.js'
import { freePort, useRedis, type TestRedis } from './redis.js'

export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64')
export const TEST_COOKIE_SECRET = 'test-cookie-secret-0123456789abcdef'

/** Every log line the host wrote, as raw JSON text (for "no secret in any log" checks). */
export interface LogCapture {
  lines: string[]
  text: () => string
}

export interface TestApp {
  app: FastifyInstance
  /** The host's origin, e.g. http://127.0.0.1:40123 */
  origin: string
  sandbox: Sandbox
  redis: TestRedis
  logs: LogCapture
  tenant: Tenant
}

export interface BuildOptions {
  mode?: 'confidential' | 'public'
  sandbox?: SandboxOptions
  plugin?: Partial<FastifyHealowOptions>
}

/** The local sandbox practice as a directory entry. */
export function sandboxTenant (sandbox: Sandbox): Tenant {
  return { id: sandbox.practiceCode, name: sandbox.practiceName, url: sandbox.fhirBaseUrl, authorize: sandbox.authorizeUrl, token: sandbox.tokenUrl }
}

/**
 * A Fastify host with the plugin, listening on loopback, wired to a sandbox
 * practice and this test's own Redis prefix; everything closes on teardown.
 */
export async function build (t: Test, options: BuildOptions = {}): Promise<TestApp> {
  const redis = await useRedis(t)
  const sandbox = await startSandbox({ autoApprove: true, ...options.sandbox })
  t.teardown(async () => { await sandbox.close() })
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'trace', stream, redact: [...LOG_REDACT_PATHS] } })
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const tenant = sandboxTenant(sandbox)
  const confidential = (options.mode ?? 'confidential') === 'confidential'
  await app.register(fastifyHealow, {
    publicUrl: origin,
    clientId: confidential ? sandbox.clientId : sandbox.publicClientId,
    clientSecret: confidential ? sandbox.clientSecret : undefined,
    cookieSecret: TEST_COOKIE_SECRET,
    encryptionKey: TEST_ENCRYPTION_KEY,
    redisUrl: redis.url,
    keyPrefix: redis.keyPrefix,
    insecureLoopback: true,
    directory: createDirectory([tenant]),
    ...options.plugin
  })
  await app.listen({ host: '127.0.0.1', port })
  t.teardown(async () => { await app.close() })
  return { app, origin, sandbox, redis, logs: { lines, text: () => lines.join('') }, tenant }
}
