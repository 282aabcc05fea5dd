import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Redis } from 'ioredis'
import { createKeys } from '../../core/keys.js'
import { createPracticeBudget } from '../../core/practice-budget.js'
import { useRedis } from '../helpers/redis.js'

const LIMIT = 20
const WINDOW_MS = 1000
const CONNECTIONS = 4
const WORKERS_PER_CONNECTION = 4
const WANTED = 70

t.test('takes from several processes never exceed the limit in any window', async (t) => {
  const { url, keyPrefix } = await useRedis(t)
  const keys = createKeys(keyPrefix)
  const clients = Array.from({ length: CONNECTIONS }, () => new Redis(url, { maxRetriesPerRequest: 3 }))
  t.teardown(async () => { await Promise.all(clients.map(async (c) => await c.quit())) })
  const budgets = clients.map((redis) => createPracticeBudget({ redis, keys, limitPerMinute: LIMIT, windowMs: WINDOW_MS }))

  // Server-side times of every granted call, and how many were refused.
  const granted: number[] = []
  let refused = 0
  async function worker (index: number): Promise<void> {
    const budget = budgets[index % CONNECTIONS]!
    while (granted.length < WANTED) {
      const d = await budget.take('JAFJCD')
      if (d.ok) {
        granted.push(d.at!)
      } else {
        refused++
        await sleep(Math.min(d.retryAfterMs, 50) * Math.random())
      }
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS * WORKERS_PER_CONNECTION }, async (_, i) => { await worker(i) }))

  t.ok(granted.length >= WANTED)
  t.ok(refused > 0, 'the workers competed for the budget')
  const times = granted.sort((a, b) => a - b)
  // Every window of WINDOW_MS: the call LIMIT places earlier must be at least
  // one window older, i.e. no span (t - window, t] holds more than LIMIT calls.
  let worst = 0
  for (let i = 0; i < times.length; i++) {
    const inWindow = times.filter((x) => x > times[i]! - WINDOW_MS && x <= times[i]!).length
    worst = Math.max(worst, inWindow)
  }
  t.ok(worst <= LIMIT, `at most ${LIMIT} calls in any ${WINDOW_MS} ms span (worst ${worst})`)
})
