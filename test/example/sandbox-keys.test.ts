import { Writable } from 'node:stream'
import t from 'tap'
import { startExample } from '../../example/start.js'
import { SANDBOX_KEY_PREFIX, clearSandboxKeys } from '../../example/sandbox-keys.js'
import { useRedis } from '../helpers/redis.js'

t.test('sandbox runs clear what earlier sandbox runs left, and nothing else', async (t) => {
  const redis = await useRedis(t)
  const { client } = redis
  await client.set(`${SANDBOX_KEY_PREFIX}:{c:old}:tokens`, 'sealed-with-a-lost-key')
  await client.set(`{${SANDBOX_KEY_PREFIX}:bull}:healow-sync:repeat:sync:old`, 'schedule')
  await client.set('healow:{c:real}:tokens', 'a real connection')
  t.teardown(async () => { await client.del('healow:{c:real}:tokens') })
  t.equal(await clearSandboxKeys(redis.url), 2)
  t.equal(await client.exists(`${SANDBOX_KEY_PREFIX}:{c:old}:tokens`), 0)
  t.equal(await client.exists('healow:{c:real}:tokens'), 1, 'real connections are never touched')

  await client.set(`${SANDBOX_KEY_PREFIX}:{c:old}:tokens`, 'left by an earlier run')
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const host = await startExample({ port: 0, redisUrl: redis.url, logStream })
  t.teardown(async () => {
    await host.close()
    await clearSandboxKeys(redis.url)
  })
  t.equal(host.config.keyPrefix, SANDBOX_KEY_PREFIX, 'sandbox data has its own prefix')
  t.equal(await client.exists(`${SANDBOX_KEY_PREFIX}:{c:old}:tokens`), 0, 'the earlier run is cleared at start')
  t.match(lines.join(''), /cleared what an earlier sandbox run left in Redis/)
  t.equal(await client.exists('healow:{c:real}:tokens'), 1)
})
