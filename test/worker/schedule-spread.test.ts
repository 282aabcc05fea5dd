import t from 'tap'
import { Queue } from 'bullmq'
import type { Connection } from '../../core/connections.js'
import { QUEUES, bullPrefix, type SyncJobData } from '../../core/queue.js'
import { ensureSchedule } from '../../core/sync-jobs.js'
import { useRedis } from '../helpers/redis.js'

const WEEK_MS = 7 * 24 * 3600 * 1000
const HOUR_MS = 3600 * 1000

t.test("10,000 connections' weekly schedules spread evenly over the hours of the week", async (t) => {
  const redis = await useRedis(t)
  const queue = new Queue<SyncJobData>(QUEUES.sync, { connection: { url: redis.url }, prefix: bullPrefix(redis.keyPrefix) })
  t.teardown(async () => {
    await queue.obliterate({ force: true })
    await queue.close()
  })
  const ids = Array.from({ length: 10_000 }, (_, i) => `c${String(i).padStart(5, '0')}`)
  for (let i = 0; i < ids.length; i += 500) {
    await Promise.all(ids.slice(i, i + 500).map(async (id, j) => {
      await ensureSchedule(queue, { id, slot: i + j + 1 } as unknown as Connection, WEEK_MS)
    }))
  }
  const schedulers = await queue.getJobSchedulers(0, -1)
  t.equal(schedulers.length, 10_000, 'one scheduler per connection')
  const buckets = new Array<number>(168).fill(0)
  const now = Date.now()
  t.equal(schedulers.filter((s) => s.next !== undefined && s.next > now - 60_000 && s.next <= now + WEEK_MS).length, 10_000, 'each runs within the coming week')
  for (const s of schedulers) buckets[Math.floor(((s.next ?? 0) % WEEK_MS) / HOUR_MS)]! += 1
  const even = 10_000 / 168
  const worst = Math.max(...buckets.map((b) => Math.abs(b - even) / even))
  t.ok(worst <= 0.2, `every hour of the week within ±20% of ${even.toFixed(1)} (worst off by ${(worst * 100).toFixed(1)}%)`)
  t.equal(buckets.reduce((a, b) => a + b, 0), 10_000)
  const jobs = await queue.getDelayed(0, 0)
  t.same(Object.keys(jobs[0]?.data ?? {}).sort(), ['connectionId', 'trigger'], 'scheduled jobs carry the id and trigger only')
  t.equal(jobs[0]?.data.trigger, 'scheduled')
})
