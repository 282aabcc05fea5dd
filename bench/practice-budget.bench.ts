/**
 * Throughput of the shared practice budget (one Lua script per call) beside
 * plain INCR calls on the same Redis, over the same number of connections
 * and calls in flight. Uses REDIS_URL when it answers, otherwise starts a
 * private redis-server on a free port.
 *
 *   npx tsx bench/practice-budget.bench.ts
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createKeys } from '../core/keys.js'
import { createPracticeBudget } from '../core/practice-budget.js'
import { keysByPrefix, resolveRedis } from '../test/helpers/redis.js'

const DURATION_MS = 2_000
const CONNECTIONS = 4
const IN_FLIGHT_PER_CONNECTION = 16
const LIMIT = 200

/** Calls `op` with CONNECTIONS x IN_FLIGHT_PER_CONNECTION loops for DURATION_MS; returns calls per second. */
async function measure (clients: Redis[], op: (redis: Redis, n: number) => Promise<unknown>): Promise<number> {
  let calls = 0
  const end = Date.now() + DURATION_MS
  const started = process.hrtime.bigint()
  await Promise.all(clients.flatMap((redis) => Array.from({ length: IN_FLIGHT_PER_CONNECTION }, async () => {
    while (Date.now() < end) await op(redis, calls++)
  })))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return calls / seconds
}

async function main (): Promise<void> {
  const server = await resolveRedis()
  const prefix = `bench-budget-${randomBytes(4).toString('hex')}`
  const clients = Array.from({ length: CONNECTIONS }, () => new Redis(server.url))
  try {
    const keys = createKeys(prefix)
    const budgets = new Map(clients.map((redis) => [redis, createPracticeBudget({ redis, keys, limitPerMinute: LIMIT })]))
    await Promise.all(clients.map(async (c) => await c.ping()))

    const incr = await measure(clients, async (redis, n) => await redis.incr(`${prefix}:incr:${n % 10_000}`))
    const spent = await measure(clients, async (redis) => await budgets.get(redis)!.take('JAFJCD'))
    const spread = await measure(clients, async (redis, n) => await budgets.get(redis)!.take(`P${n % 10_000}`))

    const rows: Array<[string, number]> = [
      ['baseline: INCR', incr],
      ['take, one practice (spent: refusals)', spent],
      ['take, 10,000 practices (grants)', spread]
    ]
    console.log(`practice budget: ${CONNECTIONS} connections x ${IN_FLIGHT_PER_CONNECTION} in flight, ${DURATION_MS / 1000} s each, limit ${LIMIT}/min`)
    console.log('case'.padEnd(40) + 'calls/s'.padStart(10) + 'vs INCR'.padStart(10))
    for (const [name, rate] of rows) {
      console.log(name.padEnd(40) + Math.round(rate).toString().padStart(10) + `${(rate / incr).toFixed(2)}x`.padStart(10))
    }
  } finally {
    const cleaner = clients[0]!
    const keys = await keysByPrefix(cleaner, prefix)
    for (let i = 0; i < keys.length; i += 1000) await cleaner.del(...keys.slice(i, i + 1000))
    await Promise.all(clients.map(async (c) => await c.quit()))
    await server.stop()
  }
}

await main()
