import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

/**
 * A real Redis for tests: REDIS_URL when it answers, otherwise a private
 * `redis-server` on a free port, started once per test file (tap runs each
 * file in its own process) and stopped when the file ends.
 */
let shared: Promise<{ url: string, stop: () => Promise<void> }> | undefined

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      srv.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

/** Whether a Redis answers PING at `url`. */
export async function answers (url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 1000 })
  probe.on('error', () => {})
  try {
    await probe.connect()
    return (await probe.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    probe.disconnect()
  }
}

/** A private `redis-server` on a free port, without persistence; `stop` removes its folder. */
export async function startRedisServer (): Promise<{ url: string, stop: () => Promise<void> }> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'healow-redis-'))
  const child: ChildProcess = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir
  ], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  const failed = new Promise<never>((resolve, reject) => {
    child.once('error', (err) => { reject(new Error(`cannot start redis-server (install it, or set REDIS_URL): ${err.message}`)) })
  })
  for (let i = 0; i < 100; i++) {
    if (await Promise.race([answers(url), failed])) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** REDIS_URL when it answers, otherwise a private server (tests and benchmarks). */
export async function resolveRedis (): Promise<{ url: string, stop: () => Promise<void> }> {
  const fromEnv = process.env.REDIS_URL
  if (fromEnv !== undefined && fromEnv !== '' && await answers(fromEnv)) return { url: fromEnv, stop: async () => {} }
  return await startRedisServer()
}

/** The Redis URL for this test file; the server is stopped with the root test. */
export async function redisUrl (t: Test): Promise<string> {
  if (shared === undefined) {
    shared = resolveRedis()
    const started = shared
    const root = rootOf(t)
    root.teardown(async () => { await (await started).stop() })
  }
  return (await shared).url
}

function rootOf (t: Test): Test {
  let node: Test = t
  while (node.parent !== undefined && node.parent !== null) node = node.parent as Test
  return node
}

/** A key prefix and queue name of this file's own, so files never touch each other's keys. */
export function uniquePrefix (hint = process.argv[1] ?? 'test'): string {
  const name = basename(hint).replace(/\.test\.ts$/, '').replace(/[^A-Za-z0-9_-]/g, '-')
  return `t-${name}-${randomBytes(4).toString('hex')}`
}

export interface TestRedis {
  url: string
  /** This test's own key prefix (also used as the BullMQ prefix). */
  keyPrefix: string
  /** A client for assertions; closed on teardown. */
  client: Redis
}

/**
 * Redis for one test: a fresh key prefix and a client; every key under the
 * prefix is removed on teardown (never FLUSHALL: REDIS_URL may be shared).
 */
export async function useRedis (t: Test): Promise<TestRedis> {
  const url = await redisUrl(t)
  const keyPrefix = uniquePrefix()
  const client = new Redis(url, { maxRetriesPerRequest: 3 })
  t.teardown(async () => {
    await deleteByPrefix(client, keyPrefix)
    await client.quit()
  })
  return { url, keyPrefix, client }
}

/** Every key under a prefix, for assertions and cleanup. */
export async function keysByPrefix (client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  return keys
}

async function deleteByPrefix (client: Redis, prefix: string): Promise<void> {
  const keys = await keysByPrefix(client, prefix)
  for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500))
}
