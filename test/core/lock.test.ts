import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { withLock } from '../../core/lock.js'
import { useRedis } from '../helpers/redis.js'

function connect (t: Test, url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 })
  t.teardown(async () => { await redis.quit() })
  return redis
}

t.test('10 callers on separate connections: fn never runs twice at once', async (t) => {
  const { url, keyPrefix, client } = await useRedis(t)
  const key = `${keyPrefix}:{c:x}:lock:refresh`
  let running = 0
  let maxRunning = 0
  const order: number[] = []
  let refusals = 0
  const clients = Array.from({ length: 10 }, () => connect(t, url))
  await Promise.all(clients.map(async (c) => await c.ping()))
  await Promise.all(clients.map(async (redis, i) => {
    // Each caller insists until it gets a turn, so all ten run fn.
    for (;;) {
      const r = await withLock(redis, key, async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        await sleep(20)
        running--
        order.push(i)
        return i
      }, { ttlMs: 5000, waitMs: 5000, pollMs: 5 })
      if (r.acquired) {
        t.equal(r.value, i)
        return
      }
      refusals++
    }
  }))
  t.equal(maxRunning, 1, 'never two holders at once')
  t.same([...order].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'every caller ran exactly once')
  t.ok(refusals > 0, 'callers met a held lock and waited')
  t.equal(await client.exists(key), 0, 'released')
})

t.test('a waiter returns { acquired: false } only once the holder has released', async (t) => {
  const { url, keyPrefix, client } = await useRedis(t)
  const key = `${keyPrefix}:lock`
  let holderDone = false
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const holder = withLock(connect(t, url), key, async () => {
    await gate
    holderDone = true
    return 'written'
  }, { ttlMs: 10_000 })
  while (await client.exists(key) === 0) await sleep(5)

  let waiterSawDone: boolean | undefined
  const waiter = withLock(connect(t, url), key, async () => 'should not run', { waitMs: 10_000, pollMs: 5 })
    .then((r) => { waiterSawDone = holderDone; return r })
  await sleep(50)
  t.equal(waiterSawDone, undefined, 'still waiting while the lock is held')
  release()
  t.same(await holder, { acquired: true, value: 'written' })
  t.same(await waiter, { acquired: false })
  t.equal(waiterSawDone, true, 'the holder had finished before the waiter returned')
})

t.test('a waiter gives up after waitMs', async (t) => {
  const { keyPrefix, client } = await useRedis(t)
  const key = `${keyPrefix}:lock`
  await client.set(key, 'someone-else', 'PX', 10_000)
  let ran = false
  const r = await withLock(client, key, async () => { ran = true }, { waitMs: 60, pollMs: 10 })
  t.same(r, { acquired: false })
  t.equal(ran, false)
  t.equal(await client.get(key), 'someone-else', 'the lock is untouched')
})

t.test('only the holder releases: an expired holder does not delete the next lock', async (t) => {
  const { keyPrefix, client } = await useRedis(t)
  const key = `${keyPrefix}:lock`
  const r = await withLock(client, key, async () => {
    // Our TTL ran out while we worked, and another process took the lock.
    await client.del(key)
    await client.set(key, 'next-holder', 'PX', 10_000)
    return 1
  }, { ttlMs: 10_000 })
  t.same(r, { acquired: true, value: 1 })
  t.equal(await client.get(key), 'next-holder', 'the other holder keeps its lock')
})

t.test('the TTL frees the lock of a crashed holder', async (t) => {
  const { url, keyPrefix, client } = await useRedis(t)
  const key = `${keyPrefix}:lock`
  const crashed = connect(t, url)
  // A holder that never releases (its process died): hold until the test ends.
  let release: () => void = () => {}
  const forever = new Promise<void>((resolve) => { release = resolve })
  t.teardown(() => { release() })
  void withLock(crashed, key, async () => { await forever }, { ttlMs: 500 })
  while (await client.exists(key) === 0) await sleep(5)
  const ttl = await client.pttl(key)
  t.ok(ttl > 0 && ttl <= 500, 'the lock carries the TTL')
  const r = await withLock(client, key, async () => 'after crash', { waitMs: 5000, pollMs: 10 })
  t.same(r, { acquired: false }, 'the waiter saw the lock go away')
  t.same(await withLock(client, key, async () => 'after crash'), { acquired: true, value: 'after crash' })
})

t.test('an error in fn releases the lock and propagates', async (t) => {
  const { keyPrefix, client } = await useRedis(t)
  const key = `${keyPrefix}:lock`
  await t.rejects(withLock(client, key, async () => { throw new Error('boom') }), { message: 'boom' })
  t.equal(await client.exists(key), 0)
})
