import { createHash, hkdfSync, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { z } from 'zod'
import { formatDuration, parseDuration } from './duration.js'
import { isAllowedOrigin, isLoopbackHost, stripTrailingSlash } from './net.js'

/** Healow blocks the whole app for the rest of the minute above 250 calls per practice. */
export const HEALOW_PRACTICE_LIMIT_PER_MINUTE = 250
export const DEFAULT_PRACTICE_RATE_LIMIT = 200
export const DEFAULT_PROXY_RATE_LIMIT = 60
export const DEFAULT_SYNC_INTERVAL = '7d'
export const DEFAULT_MANUAL_SYNC_MIN_INTERVAL = '15m'
export const DEFAULT_UPSTREAM_TIMEOUT = '30s'
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'
export const DEFAULT_PREFIX = '/healow'
export const DEFAULT_KEY_PREFIX = 'healow'
export const DEFAULT_WORKER_CONCURRENCY = 4
export const DEFAULT_PORT = 3000
export const DEFAULT_HOST = '127.0.0.1'
const WEEK_MS = 604_800_000

/**
 * Every setting, by option name, with the environment variable it is read
 * from. Plugin options and the environment go through the same schema.
 */
export const ENV_NAMES = {
  publicUrl: 'PUBLIC_URL',
  clientId: 'HEALOW_CLIENT_ID',
  clientSecret: 'HEALOW_CLIENT_SECRET',
  redisUrl: 'REDIS_URL',
  cookieSecret: 'HEALOW_COOKIE_SECRET',
  encryptionKey: 'HEALOW_ENCRYPTION_KEY',
  syncInterval: 'HEALOW_SYNC_INTERVAL',
  manualSyncMinInterval: 'HEALOW_MANUAL_SYNC_MIN_INTERVAL',
  practiceRateLimit: 'HEALOW_PRACTICE_RATE_LIMIT',
  proxyRateLimit: 'HEALOW_PROXY_RATE_LIMIT',
  upstreamTimeout: 'HEALOW_UPSTREAM_TIMEOUT',
  tenantsFile: 'HEALOW_TENANTS_FILE',
  tenantsMode: 'HEALOW_TENANTS_MODE',
  insecureLoopback: 'HEALOW_INSECURE_LOOPBACK',
  keyPrefix: 'HEALOW_KEY_PREFIX',
  workerConcurrency: 'HEALOW_WORKER_CONCURRENCY',
  port: 'PORT',
  host: 'HOST',
  logLevel: 'LOG_LEVEL'
} as const

export type OptionName = keyof typeof ENV_NAMES

/** Raw settings as a host passes them (or as read from the environment). */
export type HealowOptions = {
  [K in OptionName]?: K extends 'encryptionKey' ? string | string[] : string | number | boolean
} & {
  prefix?: string
  /** The client id is the built-in sandbox practice's (set by the example host, never by the environment). */
  sandbox?: boolean
}

export interface EncryptionKey {
  /** Stored beside every ciphertext so old values still decrypt after rotation. */
  id: string
  key: Buffer
}

/** The validated configuration every part of the project reads. */
export interface HealowConfig {
  publicUrl: string
  prefix: string
  redirectUri: string
  /** No client id set (or the host says so): the built-in sandbox practice and its client are used. */
  sandbox: boolean
  /** `http://` is allowed for loopback practice and public URLs: insecure loopback, or the sandbox. */
  allowLoopbackHttp: boolean
  clientId: string | undefined
  clientSecret: string | undefined
  /** Confidential (refresh tokens, schedules) exactly when a client secret is set. */
  confidential: boolean
  redisUrl: string
  /** Cookie signing secrets, newest first: the first signs, any verifies. */
  cookieSecrets: string[]
  encryptionKeys: EncryptionKey[]
  syncIntervalMs: number
  manualSyncMinIntervalMs: number
  practiceRateLimit: number
  proxyRateLimit: number
  /** How long one call to a practice may take (DocumentReference searches can take seconds). */
  upstreamTimeoutMs: number
  tenantsFile: string | undefined
  tenantsMode: 'merge' | 'replace'
  insecureLoopback: boolean
  keyPrefix: string
  workerConcurrency: number
  port: number
  host: string
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

export interface ConfigIssue {
  option: string
  env: string | undefined
  message: string
}

/** Thrown with every bad field at once; entry points print `message` alone. */
export class ConfigError extends Error {
  readonly code = 'HEALOW_ERR_CONFIG'
  constructor (readonly issues: ConfigIssue[]) {
    super([
      'fastify-healow: invalid configuration. Fix these and start again:',
      ...issues.map((i) => `  - ${i.env ?? i.option}${i.env !== undefined ? ` (option ${i.option})` : ''}: ${i.message}`)
    ].join('\n'))
    this.name = 'ConfigError'
  }
}

const text = z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.string().trim().optional())

const flag = z.preprocess((v) => {
  if (v === undefined || v === '') return false
  if (typeof v === 'boolean') return v
  const s = String(v).toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(s)) return true
  if (['0', 'false', 'no', 'off'].includes(s)) return false
  return v
}, z.boolean({ error: 'must be 1 or 0 (true or false)' }))

function integer (fallback: number, min: number, max: number, hint: string) {
  return z.preprocess(
    (v) => (v === undefined || v === '' ? fallback : typeof v === 'string' ? Number(v) : v),
    z.number({ error: `must be a whole number (${hint})` })
      .int({ error: `must be a whole number (${hint})` })
      .min(min, { error: `must be at least ${min} (${hint})` })
      .max(max, { error: `must be at most ${max} (${hint})` })
  )
}

function duration (fallback: string, minMs: number) {
  return z.preprocess((v) => (v === undefined || v === '' ? fallback : v), z.union([z.string(), z.number()]))
    .transform((v, ctx) => {
      const ms = parseDuration(v)
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${String(v)}" is not a duration: use a number and a unit, like 90s, 15m, 12h or 7d` })
        return z.NEVER
      }
      if (ms < minMs) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${formatDuration(minMs)}` })
        return z.NEVER
      }
      return ms
    })
}

const schema = z.object({
  publicUrl: text,
  prefix: z.string().regex(/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/, { error: 'must start with / and not end with one, like /healow' }).default(DEFAULT_PREFIX),
  clientId: text,
  clientSecret: text,
  redisUrl: text.transform((v) => v ?? DEFAULT_REDIS_URL)
    .refine((v) => /^rediss?:\/\/[^\s]+$/.test(v), { error: 'must be a redis:// or rediss:// URL, like redis://127.0.0.1:6379' }),
  cookieSecret: text.refine((v) => v === undefined || v.length >= 32, { error: 'must be at least 32 characters; make one with: openssl rand -base64 32' }),
  encryptionKey: z.union([z.string(), z.array(z.string())]).optional(),
  syncInterval: duration(DEFAULT_SYNC_INTERVAL, 60_000),
  manualSyncMinInterval: duration(DEFAULT_MANUAL_SYNC_MIN_INTERVAL, 0),
  practiceRateLimit: integer(DEFAULT_PRACTICE_RATE_LIMIT, 1, HEALOW_PRACTICE_LIMIT_PER_MINUTE - 1,
    `calls per minute per practice; Healow blocks the whole app above ${HEALOW_PRACTICE_LIMIT_PER_MINUTE}`),
  proxyRateLimit: integer(DEFAULT_PROXY_RATE_LIMIT, 1, 100_000, 'proxy calls per minute per user'),
  upstreamTimeout: duration(DEFAULT_UPSTREAM_TIMEOUT, 100),
  tenantsFile: text.refine((v) => v === undefined || existsSync(v), { error: 'names a file that does not exist' }),
  tenantsMode: z.preprocess((v) => (v === '' || v === undefined ? 'merge' : v),
    z.enum(['merge', 'replace'], { error: 'must be merge (add to the built-in directory) or replace' })),
  insecureLoopback: flag,
  keyPrefix: z.preprocess((v) => (v === '' || v === undefined ? DEFAULT_KEY_PREFIX : v),
    z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1 to 64 letters, digits, _ . or -' })),
  workerConcurrency: integer(DEFAULT_WORKER_CONCURRENCY, 1, 100, 'sync jobs one worker process runs at once'),
  port: integer(DEFAULT_PORT, 0, 65_535, 'the TCP port the example host listens on'),
  host: z.preprocess((v) => (v === '' || v === undefined ? DEFAULT_HOST : v), z.string()),
  logLevel: z.preprocess((v) => (v === '' || v === undefined ? 'info' : v),
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'must be one of fatal, error, warn, info, debug, trace, silent' }))
})

/** Reads every setting from the environment (the only place that does). */
export function readEnv (env: NodeJS.ProcessEnv = process.env): HealowOptions {
  const options: Record<string, string> = {}
  for (const [option, name] of Object.entries(ENV_NAMES)) {
    const value = env[name]
    if (value !== undefined) options[option] = value
  }
  return options as HealowOptions
}

export interface ResolvedConfig {
  config: HealowConfig
  /** Things that work but deserve the operator's attention; log them at warn. */
  warnings: string[]
}

/**
 * Validates options (or `readEnv()` output) into a {@link HealowConfig}.
 * Throws one {@link ConfigError} naming every bad field.
 */
export function resolveConfig (options: HealowOptions): ResolvedConfig {
  const parsed = schema.safeParse(options)
  const issues: ConfigIssue[] = []
  const issue = (option: string, message: string): void => {
    issues.push({ option, env: (ENV_NAMES as Record<string, string>)[option], message })
  }
  if (!parsed.success) {
    for (const i of parsed.error.issues) issue(String(i.path[0] ?? 'options'), i.message)
  }
  const data = parsed.success ? parsed.data : undefined
  const noClientId = options.clientId === undefined || String(options.clientId).trim() === ''
  const sandbox = noClientId || options.sandbox === true
  // Read apart from the rest so one bad field elsewhere does not hide these checks.
  const insecureLoopback = flag.safeParse(options.insecureLoopback).data ?? false
  const warnings: string[] = []

  const publicUrl = checkPublicUrl(text.safeParse(options.publicUrl).data, sandbox, insecureLoopback, issue, warnings)
  if (noClientId && data?.clientSecret !== undefined) {
    issue('clientSecret', 'is set but HEALOW_CLIENT_ID is not: set both for a confidential client, or neither to use the built-in sandbox practice')
  }
  const encryptionKeys = checkKeys(options.encryptionKey, sandbox, issue, warnings)
  // Without HEALOW_COOKIE_SECRET the signing secrets come from the encryption keys (one per
  // key, newest first), so a self-hoster sets four variables and key rotation rotates them too.
  const cookieSecrets = data?.cookieSecret !== undefined ? [data.cookieSecret] : encryptionKeys.map(deriveCookieSecret)
  if (!sandbox && data !== undefined && data.syncInterval < WEEK_MS) {
    warnings.push(`HEALOW_SYNC_INTERVAL is ${formatDuration(data.syncInterval)}: shorter than the weekly cadence declared to Healow`)
  }
  if (issues.length > 0 || data === undefined || publicUrl === undefined || cookieSecrets.length === 0) {
    throw new ConfigError(issues)
  }
  return {
    config: {
      publicUrl,
      prefix: data.prefix,
      redirectUri: `${publicUrl}${data.prefix}/callback`,
      sandbox,
      allowLoopbackHttp: insecureLoopback || sandbox,
      clientId: data.clientId,
      clientSecret: data.clientSecret,
      confidential: data.clientSecret !== undefined,
      redisUrl: data.redisUrl,
      cookieSecrets,
      encryptionKeys,
      syncIntervalMs: data.syncInterval,
      manualSyncMinIntervalMs: data.manualSyncMinInterval,
      practiceRateLimit: data.practiceRateLimit,
      proxyRateLimit: data.proxyRateLimit,
      upstreamTimeoutMs: data.upstreamTimeout,
      tenantsFile: data.tenantsFile,
      tenantsMode: data.tenantsMode,
      insecureLoopback,
      keyPrefix: data.keyPrefix,
      workerConcurrency: data.workerConcurrency,
      port: data.port,
      host: data.host,
      logLevel: data.logLevel
    },
    warnings
  }
}

type AddIssue = (option: string, message: string) => void

function checkPublicUrl (
  value: string | undefined, sandbox: boolean, insecureLoopback: boolean, issue: AddIssue, warnings: string[]
): string | undefined {
  if (value === undefined) {
    issue('publicUrl', 'is required: the public https:// origin users reach this server at (the redirect URL is {PUBLIC_URL}/healow/callback)')
    return undefined
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    issue('publicUrl', `"${value}" is not a URL: use the public origin, like https://health.example.org`)
    return undefined
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    issue('publicUrl', 'must be a plain origin (and optional path) with no query, fragment or credentials')
    return undefined
  }
  if (!sandbox && !isAllowedOrigin(url, insecureLoopback)) {
    issue('publicUrl', url.protocol === 'http:' && isLoopbackHost(url.hostname)
      ? 'must be https://; for local trials set HEALOW_INSECURE_LOOPBACK=1 (loopback addresses only)'
      : 'must be https://: Healow accepts only HTTPS redirect URLs')
    return undefined
  }
  if (sandbox && !['http:', 'https:'].includes(url.protocol)) {
    issue('publicUrl', 'must be an http:// or https:// URL')
    return undefined
  }
  if (!sandbox && isLoopbackHost(url.hostname)) {
    warnings.push('PUBLIC_URL is a loopback address: Healow refuses localhost redirect URLs; expose this server through an HTTPS tunnel and use its URL')
  }
  return stripTrailingSlash(url.href)
}

function checkKeys (value: string | string[] | undefined, sandbox: boolean, issue: AddIssue, warnings: string[]): EncryptionKey[] {
  const texts = (Array.isArray(value) ? value : (value ?? '').split(',')).map((k) => k.trim()).filter((k) => k !== '')
  if (texts.length === 0) {
    if (sandbox) {
      warnings.push('HEALOW_ENCRYPTION_KEY is not set: using a RANDOM key for this run (sandbox only). Everything stored is unreadable after a restart. Set one: openssl rand -base64 32')
      return [toKey(randomBytes(32))]
    }
    issue('encryptionKey', 'is required: one or more base64 32-byte keys, newest first, comma-separated; make one with: openssl rand -base64 32')
    return []
  }
  const keys: EncryptionKey[] = []
  texts.forEach((t, index) => {
    const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(t) ? Buffer.from(t, 'base64') : Buffer.alloc(0)
    if (bytes.length !== 32) {
      issue('encryptionKey', `key ${index + 1} is not 32 bytes of base64 (it decodes to ${bytes.length} bytes); make one with: openssl rand -base64 32`)
    } else {
      keys.push(toKey(bytes))
    }
  })
  return keys
}

/**
 * A cookie signing secret derived from an encryption key with HKDF-SHA256
 * (RFC 5869) under its own label, so the two uses never share key material.
 */
export function deriveCookieSecret (key: EncryptionKey): string {
  return Buffer.from(hkdfSync('sha256', key.key, Buffer.alloc(0), 'fastify-healow cookie signing', 32)).toString('base64url')
}

/** A key's id is derived from the key itself, so operators never manage ids. */
function toKey (key: Buffer): EncryptionKey {
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key }
}
