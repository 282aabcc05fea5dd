import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { DEFAULT_REDIS_URL } from '../core/config.js'

/** How long a private redis-server may take to answer its first PING. */
export const DEFAULT_REDIS_START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5_000

/** Said whenever Redis cannot be had: what to run to get one. */
export const REDIS_HELP = [
  'Redis is the one server fastify-healow needs. Get one of these and start again:',
  '  - docker compose up -d redis     (Redis 7 on 127.0.0.1:6379, the default REDIS_URL)',
  '  - install redis-server (e.g. apt-get install redis-server, or brew install redis):',
  '    with REDIS_URL unset, npm start then runs a private one for this run under .data/redis/',
  '  - or set REDIS_URL to a Redis you already have, like redis://127.0.0.1:6379'
].join('\n')

/** Redis is neither reachable nor startable. The message says how to get one; no stack is worth printing. */
export class RedisUnavailableError extends Error {
  readonly code = 'HEALOW_ERR_REDIS_UNAVAILABLE'
  constructor (readonly reason: string) {
    super(`fastify-healow: ${reason}\n${REDIS_HELP}`)
    this.name = 'RedisUnavailableError'
  }
}

/** A redis-server this process started, and how to stop it. */
export interface PrivateRedis {
  url: string
  port: number
  dataDir: string
  /** A private Redis of an earlier run (killed before it could stop it) held the data directory and was stopped first. */
  stoppedLeftover: boolean
  stop: () => Promise<void>
}

/** A TCP port nothing listens on right now (127.0.0.1). */
export async function findFreePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

/** The URL with any password blanked, for messages and logs. */
export function redactRedisUrl (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.href.replace(/\/$/, '')
  } catch {
    return 'an unparsable REDIS_URL'
  }
}

async function ask<T> (url: string, timeoutMs: number, question: (client: Redis) => Promise<T>): Promise<T | undefined> {
  const client = new Redis(url, {
    lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: timeoutMs
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return await question(client)
  } catch {
    return undefined
  } finally {
    client.disconnect()
  }
}

/** True when a Redis answers PING at `url` within the timeout. Never throws, never retries. */
export async function pingRedis (url: string, timeoutMs = 1000): Promise<boolean> {
  return (await ask(url, timeoutMs, async (client) => await client.ping())) === 'PONG'
}

/** The process id of the Redis answering at `url`: a port someone else holds must not pass for ours. */
async function serverPid (url: string, timeoutMs: number): Promise<number | undefined> {
  const info = await ask(url, timeoutMs, async (client) => await client.info('server'))
  const match = info !== undefined ? /^process_id:(\d+)/m.exec(info) : null
  return match !== null ? Number(match[1]) : undefined
}

function logTail (dataDir: string): string {
  const file = join(dataDir, 'redis.log')
  if (!existsSync(file)) return ''
  const lines = readFileSync(file, 'utf8').trim().split('\n').slice(-3)
  return lines.length > 0 ? ` Its log says:\n    ${lines.join('\n    ')}` : ''
}

const PID_FILE = 'redis.pid'

function isRunning (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/**
 * A run that was killed outright leaves its redis-server running on the
 * data directory; two servers on one append-only file would corrupt it.
 * Stops that one, and only if the pid file's process is a redis-server.
 */
async function stopLeftover (dataDir: string): Promise<boolean> {
  const pidFile = join(dataDir, PID_FILE)
  if (!existsSync(pidFile)) return false
  const pid = Number(readFileSync(pidFile, 'utf8').trim())
  if (!Number.isSafeInteger(pid) || pid <= 1 || !isRunning(pid)) return false
  let command = ''
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    // No /proc (macOS): do not guess; let the operator look.
    throw new RedisUnavailableError(`a redis-server of an earlier run may still be running on ${dataDir} (pid ${pid}); stop it (kill ${pid}) or delete ${pidFile}.`)
  }
  if (!command.includes('redis-server')) return false
  process.kill(pid, 'SIGTERM')
  for (let i = 0; i < 100 && isRunning(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  return true
}

async function waitForExit (child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { resolve(false) }, ms)
    child.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

/**
 * Starts `redis-server` as a child of this process, on 127.0.0.1 and a free
 * port (or `port`), with its data, append-only file and log in `dataDir`
 * (AOF on: connections and records survive a restart, given the same
 * encryption key). `stop()` shuts it down cleanly (SIGTERM: Redis flushes
 * the AOF on the way out).
 */
export async function startPrivateRedis (options: { dataDir: string, port?: number, timeoutMs?: number }): Promise<PrivateRedis> {
  const { dataDir } = options
  mkdirSync(dataDir, { recursive: true })
  const port = options.port ?? await findFreePort()
  const url = `redis://127.0.0.1:${port}`
  const stale = await stopLeftover(dataDir)
  // Its own process group: Ctrl-C in the terminal reaches us, and we stop Redis last, after the worker.
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--dir', dataDir,
    '--appendonly', 'yes', '--save', '', '--logfile', 'redis.log', '--pidfile', join(dataDir, PID_FILE), '--daemonize', 'no'
  ], { stdio: 'ignore', detached: true })
  const problem = new Promise<string>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'ENOENT' ? 'redis-server is not installed (not found on PATH).' : `redis-server could not be started (${err.code ?? err.message}).`)
    })
    child.once('exit', (code) => { resolve(`redis-server exited at once (code ${String(code)}).${logTail(dataDir)}`) })
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    child.kill('SIGTERM')
    if (!await waitForExit(child, STOP_TIMEOUT_MS)) {
      child.kill('SIGKILL')
      await waitForExit(child, STOP_TIMEOUT_MS)
    }
  }
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_REDIS_START_TIMEOUT_MS)
  let failure: string | undefined
  void problem.then((reason) => { failure = reason })
  while (Date.now() < deadline) {
    if (failure !== undefined) throw new RedisUnavailableError(failure)
    if (await serverPid(url, 500) === child.pid) return { url, port, dataDir, stoppedLeftover: stale, stop }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await stop()
  throw new RedisUnavailableError(failure ?? `redis-server did not answer on ${url} in time.${logTail(dataDir)}`)
}

export interface FoundRedis {
  url: string
  /** Set when this run started its own redis-server; stop it on exit. */
  privateRedis?: PrivateRedis
}

/**
 * Finds the Redis this run uses. An explicit REDIS_URL must answer (we never
 * replace a Redis the operator named). Without one, a Redis on the default
 * 127.0.0.1:6379 is used, or else a private redis-server is started.
 * Throws {@link RedisUnavailableError} with how to get one.
 */
export async function findRedis (options: { redisUrl: string | undefined, dataDir: string }): Promise<FoundRedis> {
  if (options.redisUrl !== undefined) {
    if (await pingRedis(options.redisUrl)) return { url: options.redisUrl }
    throw new RedisUnavailableError(`Redis is not reachable at ${redactRedisUrl(options.redisUrl)} (REDIS_URL).`)
  }
  if (await pingRedis(DEFAULT_REDIS_URL)) return { url: DEFAULT_REDIS_URL }
  try {
    const privateRedis = await startPrivateRedis({ dataDir: options.dataDir })
    return { url: privateRedis.url, privateRedis }
  } catch (err) {
    if (!(err instanceof RedisUnavailableError)) throw err
    throw new RedisUnavailableError(`REDIS_URL is not set, nothing answers on ${DEFAULT_REDIS_URL}, and ${lowerFirst(err.reason)}`)
  }
}

function lowerFirst (text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1)
}
