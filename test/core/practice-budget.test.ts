import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { createKeys } from '../../core/keys.js'
import { createPracticeBudget, DEFAULT_PAUSE_MARGIN_MS, type PracticeBudget } from '../../core/practice-budget.js'
import { useRedis } from '../helpers/redis.js'

/** A separate connection, as another process would have. */
function connect (t: Test, url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 })
  t.teardown(async () => { await redis.quit() })
  return redis
}

async function serverNow (redis: Redis): Promise<number> {
  const [s, us] = await redis.time()
  return Number(s) * 1000 + Math.floor(Number(us) / 1000)
}

async function setup (t: Test, limitPerMinute: number, windowMs?: number): Promise<{ url: string, client: Redis, keys: ReturnType<typeof createKeys>, budget: (redis?: Redis) => PracticeBudget }> {
  const { url, keyPrefix, client } = await useRedis(t)
  const keys = createKeys(keyPrefix)
  const budget = (redis = connect(t, url)): PracticeBudget => createPracticeBudget({ redis, keys, limitPerMinute, windowMs })
  return { url, client, keys, budget }
}

t.test('exactly `limit` takes succeed, then refusals with a wait inside the window', async (t) => {
  const { budget, client, keys } = await setup(t, 5)
  const b = budget()
  for (let i = 0; i < 5; i++) {
    const d = await b.take('JAFJCD')
    t.equal(d.ok, true, `take ${i + 1}`)
    t.equal(d.retryAfterMs, 0)
    t.type(d.at, 'number')
  }
  for (let i = 0; i < 3; i++) {
    const d = await b.take('JAFJCD')
    t.equal(d.ok, false)
    t.equal(d.reason, 'budget')
    t.ok(d.retryAfterMs > 0 && d.retryAfterMs <= 61_200, `retryAfterMs ${d.retryAfterMs} in (0, 60000 + the 1200 ms transit guard]`)
  }
  t.equal(await client.zcard(keys.practiceBudget('JAFJCD')), 5, 'refusals are not logged')
  const ttl = await client.pttl(keys.practiceBudget('JAFJCD'))
  t.ok(ttl > 0 && ttl <= 61_200, 'the log expires when the practice goes idle')
})

t.test('concurrent takes from several connections grant exactly the limit', async (t) => {
  const { budget } = await setup(t, 30)
  const budgets = Array.from({ length: 5 }, () => budget())
  const decisions = await Promise.all(Array.from({ length: 100 }, (_, i) => budgets[i % 5]!.take('ABCDEF')))
  t.equal(decisions.filter((d) => d.ok).length, 30)
  t.equal(decisions.filter((d) => !d.ok && d.reason === 'budget').length, 70)
})

t.test('acquire waits for the window to slide, then takes', async (t) => {
  const { budget, client, keys } = await setup(t, 5, 1000)
  const b = budget()
  const granted: number[] = []
  for (let i = 0; i < 5; i++) granted.push((await b.take('JAFJCD')).at!)
  t.equal((await b.take('JAFJCD')).ok, false, 'spent')
  await b.acquire('JAFJCD', { maxWaitMs: 10_000 })
  const log = await client.zrange(keys.practiceBudget('JAFJCD'), 0, -1, 'WITHSCORES')
  const scores = log.filter((_, i) => i % 2 === 1).map(Number).sort((a, b) => a - b)
  const newest = scores[scores.length - 1]!
  t.ok(newest >= granted[0]! + 1000, 'the new call was counted after the oldest left the window')
  t.ok(scores.length <= 5)
})

t.test('acquire throws HEALOW_ERR_BUDGET_TIMEOUT when no call can be had in time', async (t) => {
  const { budget, client, keys } = await setup(t, 1)
  const b = budget()
  t.equal((await b.take('JAFJCD')).ok, true)
  await t.rejects(b.acquire('JAFJCD', { maxWaitMs: 100 }), { code: 'HEALOW_ERR_BUDGET_TIMEOUT', statusCode: 503, message: /JAFJCD/ })
  t.equal(await client.zcard(keys.practiceBudget('JAFJCD')), 1)
  await b.pause('OTHER1')
  await t.rejects(b.acquire('OTHER1', { maxWaitMs: 100 }), { code: 'HEALOW_ERR_BUDGET_TIMEOUT' })
})

t.test('acquire honours an abort signal', async (t) => {
  const { budget, client, keys } = await setup(t, 1)
  const b = budget()
  t.equal((await b.take('JAFJCD')).ok, true)
  const controller = new AbortController()
  const reason = new Error('stop')
  const pending = b.acquire('JAFJCD', { signal: controller.signal })
  setTimeout(() => { controller.abort(reason) }, 50)
  await t.rejects(pending, reason)

  const before = await client.zcard(keys.practiceBudget('FREE01'))
  await t.rejects(b.acquire('FREE01', { signal: AbortSignal.abort(reason) }), reason)
  t.equal(await client.zcard(keys.practiceBudget('FREE01')), before, 'an aborted acquire takes nothing')
})

t.test('pause stops every connection until the next calendar minute plus a margin', async (t) => {
  const { budget, client, keys } = await setup(t, 100)
  const a = budget()
  const b = budget()
  const before = await serverNow(client)
  await a.pause('JAFJCD')
  const after = await serverNow(client)
  const untilOf = (now: number): number => (Math.floor(now / 60_000) + 1) * 60_000 + DEFAULT_PAUSE_MARGIN_MS
  const until = Number(await client.get(keys.practicePause('JAFJCD')))
  t.ok(until === untilOf(before) || until === untilOf(after), 'pauses until the next minute + margin')

  const d = await b.take('JAFJCD')
  t.equal(d.ok, false)
  t.equal(d.reason, 'paused')
  t.ok(d.retryAfterMs > 0 && d.retryAfterMs <= 60_000 + DEFAULT_PAUSE_MARGIN_MS)
  const left = await b.pausedFor('JAFJCD')
  t.ok(left > 0 && left <= 60_000 + DEFAULT_PAUSE_MARGIN_MS)
  t.equal(await client.zcard(keys.practiceBudget('JAFJCD')), 0, 'a paused take is not logged')
  t.equal((await b.take('ABCDEF')).ok, true, 'other practices go on')
})

t.test('a pause expires, and never shortens a longer one', async (t) => {
  const { budget, client, keys } = await setup(t, 100)
  const a = budget()
  const b = budget()
  const now = await serverNow(client)
  await a.pause('JAFJCD', now + 1000)
  t.equal((await b.take('JAFJCD')).reason, 'paused')
  await a.pause('JAFJCD', now + 500)
  t.equal(await client.get(keys.practicePause('JAFJCD')), String(now + 1000), 'the longer pause stays')
  while (await b.pausedFor('JAFJCD') > 0) await sleep(25)
  t.equal(await client.exists(keys.practicePause('JAFJCD')), 0, 'the pause key is gone')
  t.equal((await b.take('JAFJCD')).ok, true)

  await a.pause('JAFJCD', now - 1000)
  t.equal(await b.pausedFor('JAFJCD'), 0, 'a pause in the past does nothing')
  t.equal(await b.pausedFor('NEVER1'), 0)
})

t.test('practices are independent; codes are case-insensitive', async (t) => {
  const { budget } = await setup(t, 2)
  const b = budget()
  t.equal((await b.take('AAAAAA')).ok, true)
  t.equal((await b.take('aaaaaa')).ok, true)
  t.equal((await b.take('AAAAAA')).ok, false)
  t.equal((await b.take('BBBBBB')).ok, true)
  t.equal((await b.take('BBBBBB')).ok, true)
  t.equal((await b.take('bbbbbb')).ok, false)
})

t.test('idle practices leave no keys behind', async (t) => {
  const { budget, client, keys } = await setup(t, 3, 1000)
  const b = budget()
  await b.take('JAFJCD')
  await b.pause('JAFJCD', await serverNow(client) + 1000)
  t.equal(await client.exists(keys.practiceBudget('JAFJCD'), keys.practicePause('JAFJCD')), 2)
  const deadline = Date.now() + 5000
  while (Date.now() < deadline && await client.exists(keys.practiceBudget('JAFJCD'), keys.practicePause('JAFJCD')) > 0) await sleep(25)
  t.equal(await client.exists(keys.practiceBudget('JAFJCD'), keys.practicePause('JAFJCD')), 0, 'both keys expired')
})

t.test('options are checked', async (t) => {
  const { client, keys } = await setup(t, 1)
  t.throws(() => createPracticeBudget({ redis: client, keys, limitPerMinute: 0 }), RangeError)
  t.throws(() => createPracticeBudget({ redis: client, keys, limitPerMinute: 5, windowMs: 1.5 }), RangeError)
  const b1 = createPracticeBudget({ redis: client, keys, limitPerMinute: 1 })
  const b2 = createPracticeBudget({ redis: client, keys, limitPerMinute: 1 })
  t.equal((await b1.take('SHARED')).ok, true, 'two budgets on one client share the script')
  t.equal((await b2.take('SHARED')).ok, false)
})
