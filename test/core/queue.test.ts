import { createHash } from 'node:crypto'
import t from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import {
  bullPrefix, JOBS, manualJobId, parseSyncJob, QUEUES, scheduleOffsetMs, schedulerId, SYNC_TRIGGERS, syncJobSchema
} from '../../core/queue.js'
import { keysByPrefix, useRedis } from '../helpers/redis.js'

const HOUR_MS = 3_600_000
const WEEK_MS = 7 * 24 * HOUR_MS
const BUCKETS = 168

t.test('names and ids', async (t) => {
  t.same(QUEUES, { sync: 'healow-sync' })
  t.same(JOBS, { sync: 'sync' })
  t.same(SYNC_TRIGGERS, ['initial', 'scheduled', 'manual'])
  t.equal(schedulerId('abc'), 'sync:abc')
  t.equal(manualJobId('abc'), manualJobId('abc'), 'deterministic')
  t.equal(manualJobId('abc'), 'manual-abc')
  t.not(manualJobId('abc'), manualJobId('abd'))
  t.notOk(manualJobId('abc').includes(':'), 'BullMQ refuses custom ids with a colon')
  t.equal(bullPrefix('healow'), '{healow:bull}')
  t.throws(() => bullPrefix('a}b'), RangeError)
})

t.test('the job schema accepts exactly a connection id and a trigger', async (t) => {
  for (const trigger of SYNC_TRIGGERS) {
    t.same(parseSyncJob({ connectionId: 'c_1-A', trigger }), { connectionId: 'c_1-A', trigger })
  }
  t.equal(syncJobSchema.safeParse({ connectionId: 'c1', trigger: 'manual' }).success, true)
})

t.test('the job schema rejects extra keys, so no token can ride along', async (t) => {
  const token = 'eyJhbGciOiJSUzI1NiJ9.secret-access-token'
  let caught: unknown
  try { parseSyncJob({ connectionId: 'c1', trigger: 'manual', accessToken: token }) } catch (err) { caught = err }
  t.match(caught, { code: 'HEALOW_ERR_INVALID_JOB', message: /accessToken/ })
  t.notOk(String((caught as Error).message).includes(token), 'the value is not echoed')
  t.equal(syncJobSchema.safeParse({ connectionId: 'c1', trigger: 'manual', refreshToken: 'x' }).success, false)
})

t.test('the job schema rejects bad triggers, bad or empty ids and non-objects', async (t) => {
  const bad: unknown[] = [
    { connectionId: 'c1', trigger: 'hourly' },
    { connectionId: 'c1' },
    { connectionId: '', trigger: 'manual' },
    { connectionId: 'a:b', trigger: 'manual' },
    { connectionId: 'a}b', trigger: 'manual' },
    { connectionId: 'x'.repeat(129), trigger: 'manual' },
    { connectionId: 42, trigger: 'manual' },
    { trigger: 'manual' },
    null,
    'c1',
    []
  ]
  for (const data of bad) {
    t.throws(() => parseSyncJob(data), { code: 'HEALOW_ERR_INVALID_JOB' }, JSON.stringify(data)?.slice(0, 40))
  }
  t.throws(() => parseSyncJob({ connectionId: 'c1', trigger: 'hourly' }), { message: /trigger must be one of initial, scheduled, manual/ })
})

t.test('scheduleOffsetMs is stable and in range', async (t) => {
  t.equal(scheduleOffsetMs(0, WEEK_MS), 0)
  t.equal(scheduleOffsetMs(1, 1000), 618)
  t.equal(scheduleOffsetMs(2, 1000), 236)
  t.equal(scheduleOffsetMs(3, 1000), 854)
  for (const slot of [1, 2, 17, 1000, 123_456, 9_007_199]) {
    const offset = scheduleOffsetMs(slot, WEEK_MS)
    t.equal(scheduleOffsetMs(slot, WEEK_MS), offset, 'same slot, same offset')
    t.ok(Number.isInteger(offset) && offset >= 0 && offset < WEEK_MS, `slot ${slot} in range`)
  }
  for (let slot = 0; slot < 1000; slot++) {
    const offset = scheduleOffsetMs(slot, 7)
    if (!(offset >= 0 && offset < 7)) t.fail(`slot ${slot} out of range: ${offset}`)
  }
  t.throws(() => scheduleOffsetMs(-1, WEEK_MS), RangeError)
  t.throws(() => scheduleOffsetMs(1.5, WEEK_MS), RangeError)
  t.throws(() => scheduleOffsetMs(1, 0), RangeError)
})

function hourBuckets (offsets: Iterable<number>): number[] {
  const buckets = new Array<number>(BUCKETS).fill(0)
  for (const offset of offsets) buckets[Math.floor(offset / HOUR_MS)]! += 1
  return buckets
}

function outsideBand (buckets: number[], total: number): number[] {
  const even = total / BUCKETS
  return buckets.filter((n) => n < even * 0.8 || n > even * 1.2)
}

/** A seeded generator, so the "random" deletions are the same on every run. */
function seeded (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = Math.imul(state ^ (state >>> 15), state | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296
  }
}

t.test('10,000 connections over a week: every hour within 20% of even', async (t) => {
  const slots = Array.from({ length: 10_000 }, (_, i) => i + 1)
  const buckets = hourBuckets(slots.map((s) => scheduleOffsetMs(s, WEEK_MS)))
  t.equal(buckets.reduce((a, b) => a + b, 0), 10_000)
  t.same(outsideBand(buckets, 10_000), [], `min ${Math.min(...buckets)}, max ${Math.max(...buckets)}, even 59.5`)
})

t.test('the spread holds after deleting 2,000 random connections out of 12,000', async (t) => {
  const random = seeded(20_240_607)
  const slots = Array.from({ length: 12_000 }, (_, i) => i + 1)
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = slots[i]!
    slots[i] = slots[j]!
    slots[j] = tmp
  }
  const kept = slots.slice(0, 10_000)
  const buckets = hourBuckets(kept.map((s) => scheduleOffsetMs(s, WEEK_MS)))
  t.same(outsideBand(buckets, 10_000), [], `min ${Math.min(...buckets)}, max ${Math.max(...buckets)}`)
})

t.test('a hash of random ids would not hold the bound (why slots are used)', async (t) => {
  const random = seeded(7)
  const offsets = Array.from({ length: 10_000 }, (_, i) => {
    const id = `${i}-${random().toString(36)}`
    return createHash('sha256').update(id).digest().readUInt32BE(0) % WEEK_MS
  })
  const outside = outsideBand(hourBuckets(offsets), 10_000)
  t.ok(outside.length > 5, `${outside.length} hourly buckets fall outside the band`)
})

t.test('a real BullMQ queue takes the prefix, the manual id and the scheduler', async (t) => {
  const { url, keyPrefix, client } = await useRedis(t)
  const connection = new Redis(url, { maxRetriesPerRequest: null })
  const queue = new Queue(QUEUES.sync, { connection, prefix: bullPrefix(keyPrefix) })
  t.teardown(async () => {
    await queue.obliterate({ force: true })
    await queue.close()
    await connection.quit()
  })
  const data = parseSyncJob({ connectionId: 'conn1', trigger: 'manual' })
  const first = await queue.add(JOBS.sync, data, { jobId: manualJobId('conn1'), delay: 60_000 })
  const second = await queue.add(JOBS.sync, { ...data }, { jobId: manualJobId('conn1'), delay: 60_000 })
  t.equal(first.id, 'manual-conn1')
  t.equal(second.id, first.id, 'a second trigger returns the same job')
  t.equal(await queue.getJobCountByTypes('delayed', 'waiting'), 1)

  const offset = scheduleOffsetMs(42, WEEK_MS)
  await queue.upsertJobScheduler(schedulerId('conn1'), { every: WEEK_MS, offset }, {
    name: JOBS.sync, data: { connectionId: 'conn1', trigger: 'scheduled' }
  })
  const scheduler = await queue.getJobScheduler(schedulerId('conn1'))
  t.equal(scheduler?.key, 'sync:conn1')
  t.equal(scheduler?.every, WEEK_MS)

  const keys = await keysByPrefix(client, keyPrefix)
  t.ok(keys.length > 0)
  t.ok(keys.every((k) => k.startsWith(`{${keyPrefix}:bull}:${QUEUES.sync}:`)), 'every queue key shares the hash tag')
})
