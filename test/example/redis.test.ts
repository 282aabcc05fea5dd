import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { REDIS_HELP, RedisUnavailableError, findRedis, pingRedis, redactRedisUrl, startPrivateRedis } from '../../example/redis.js'
import { freePort } from '../helpers/redis.js'

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'healow-private-redis-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

t.test('a private redis-server starts on a free port with AOF in its data dir, and stops', async (t) => {
  const dataDir = tempDir(t)
  const redis = await startPrivateRedis({ dataDir })
  t.teardown(redis.stop)
  t.equal(redis.url, `redis://127.0.0.1:${redis.port}`)
  t.equal(redis.stoppedLeftover, false)
  t.equal(await pingRedis(redis.url), true)
  const client = new Redis(redis.url)
  t.same(await client.config('GET', 'appendonly'), ['appendonly', 'yes'])
  t.same(await client.config('GET', 'dir'), ['dir', dataDir])
  t.same(await client.config('GET', 'bind'), ['bind', '127.0.0.1'])
  await client.set('first-run', 'kept')
  await client.quit()
  t.ok(existsSync(join(dataDir, 'redis.pid')), 'pid file written')
  t.match(readFileSync(join(dataDir, 'redis.log'), 'utf8'), /Ready to accept connections/)

  await redis.stop()
  t.equal(await pingRedis(redis.url), false, 'nothing answers after stop')
  await redis.stop()

  // Started again on the same directory: the append-only file brings the data back.
  const again = await startPrivateRedis({ dataDir })
  t.teardown(again.stop)
  const client2 = new Redis(again.url)
  t.equal(await client2.get('first-run'), 'kept')
  await client2.quit()
})

t.test('a private redis left running by a killed run is stopped before a new one starts', async (t) => {
  const dataDir = tempDir(t)
  const leftover = await startPrivateRedis({ dataDir })
  t.teardown(leftover.stop)
  const next = await startPrivateRedis({ dataDir })
  t.teardown(next.stop)
  t.equal(next.stoppedLeftover, true)
  t.equal(await pingRedis(leftover.url), false, 'the earlier one is gone')
  t.equal(await pingRedis(next.url), true)
})

t.test('a redis-server that exits at once is reported with its log', async (t) => {
  const dataDir = tempDir(t)
  const port = await freePort()
  const first = await startPrivateRedis({ dataDir: tempDir(t), port })
  t.teardown(first.stop)
  // The port is taken: the second server cannot bind and exits.
  const err = await startPrivateRedis({ dataDir, port }).catch((e: unknown) => e)
  t.type(err, RedisUnavailableError)
  t.match((err as RedisUnavailableError).reason, /redis-server exited at once/)
  t.match((err as Error).message, /Address already in use/)
  t.match((err as Error).message, REDIS_HELP)
})

t.test('an explicit REDIS_URL that does not answer is an error that says how to get Redis', async (t) => {
  const port = await freePort()
  t.equal(await pingRedis(`redis://127.0.0.1:${port}`, 300), false)
  const err = await findRedis({ redisUrl: `redis://:hunter2@127.0.0.1:${port}`, dataDir: tempDir(t) }).catch((e: unknown) => e)
  t.type(err, RedisUnavailableError)
  const message = (err as Error).message
  t.match(message, `Redis is not reachable at redis://:***@127.0.0.1:${port} (REDIS_URL).`)
  t.match(message, 'docker compose up -d redis')
  t.match(message, 'apt-get install redis-server')
  t.notMatch(message, 'hunter2', 'the password is not shown')
  t.equal((err as RedisUnavailableError).code, 'HEALOW_ERR_REDIS_UNAVAILABLE')
})

t.test('an explicit REDIS_URL that answers is used as it is', async (t) => {
  const redis = await startPrivateRedis({ dataDir: tempDir(t) })
  t.teardown(redis.stop)
  t.same(await findRedis({ redisUrl: redis.url, dataDir: '/nonexistent' }), { url: redis.url })
})

t.test('redactRedisUrl', async (t) => {
  t.equal(redactRedisUrl('redis://user:secret@host:6379/0'), 'redis://user:***@host:6379/0')
  t.equal(redactRedisUrl('redis://host:6379'), 'redis://host:6379')
  t.equal(redactRedisUrl('::'), 'an unparsable REDIS_URL')
})
