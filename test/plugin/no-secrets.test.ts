import t from 'tap'
import type { Redis } from 'ioredis'
import { build } from '../helpers/build.js'
import { Browser } from '../helpers/browser.js'
import { keysByPrefix } from '../helpers/redis.js'

/** Every value under a prefix, whatever the key's type, as text. */
async function dumpValues (client: Redis, prefix: string): Promise<string[]> {
  const out: string[] = []
  for (const key of await keysByPrefix(client, prefix)) {
    const type = await client.type(key)
    if (type === 'string') out.push(`${key} ${await client.get(key) ?? ''}`)
    else if (type === 'hash') out.push(`${key} ${JSON.stringify(await client.hgetall(key))}`)
    else if (type === 'set') out.push(`${key} ${(await client.smembers(key)).join(' ')}`)
    else if (type === 'zset') out.push(`${key} ${(await client.zrange(key, 0, -1)).join(' ')}`)
    else if (type === 'list') out.push(`${key} ${(await client.lrange(key, 0, -1)).join(' ')}`)
    else if (type === 'stream') out.push(`${key} ${JSON.stringify(await client.xrange(key, '-', '+'))}`)
    else out.push(`${key} <${type}>`)
  }
  return out
}

for (const mode of ['confidential', 'public'] as const) {
  t.test(`${mode}: no token, code, verifier, secret or cookie in any log or Redis value`, async (t) => {
    const ctx = await build(t, { mode })
    const browser = new Browser()
    const start = await browser.get(`${ctx.origin}/healow/authorize?tenant=${ctx.tenant.id}&returnTo=/done`)
    const state = new URL(start.location ?? '').searchParams.get('state') ?? ''
    // The verifier and nonce exist only sealed in Redis: open them the way the plugin does.
    const sealed = await ctx.redis.client.get(ctx.app.healow.keys.authState(state)) ?? ''
    const pending = JSON.parse(ctx.app.healow.keyring.decryptString(sealed, `auth:${state}`))
    t.notMatch(sealed, pending.codeVerifier, 'the verifier is not stored in the clear')
    const atPractice = await browser.get(start.location ?? '')
    const code = new URL(atPractice.location ?? '').searchParams.get('code') ?? ''
    t.ok(code.length > 10)
    const done = await browser.get(atPractice.location ?? '')
    const id = new URL(done.location ?? '').searchParams.get('connection') ?? ''
    const status = await browser.get(`${ctx.origin}/healow/connections/${id}`)
    t.equal(status.status, 200)
    // Failures log too: make one of each kind.
    await browser.get(`${ctx.origin}/healow/callback?state=${state}&code=${code}`)
    await new Browser().get(`${ctx.origin}/healow/connections/${id}`)

    const tokens = await ctx.app.healow.connections.readTokens(id)
    t.ok(tokens?.accessToken)
    const cookies = [...(browser.cookies.get(ctx.origin)?.values() ?? [])]
    t.ok(cookies.length > 0, 'the device cookie was set')
    const secrets: Record<string, string> = {
      accessToken: tokens?.accessToken ?? '',
      code,
      codeVerifier: pending.codeVerifier,
      nonce: pending.nonce,
      clientSecret: ctx.sandbox.clientSecret,
      cookieSecret: 'test-cookie-secret-0123456789abcdef',
      ...Object.fromEntries(cookies.map((c, i) => [`cookie${i}`, c]))
    }
    if (mode === 'confidential') secrets.refreshToken = tokens?.refreshToken ?? ''

    const logs = ctx.logs.text()
    t.ok(logs.includes('practice connected'), 'the logs were captured')
    t.ok(logs.includes('"level":10') || logs.includes('"level":20') || logs.includes('"level":30'), 'every level is captured')
    const values = (await dumpValues(ctx.redis.client, ctx.redis.keyPrefix)).join('\n')
    t.ok(values.length > 0)
    for (const [name, secret] of Object.entries(secrets)) {
      t.ok(secret.length >= 8, `${name} is a real value`)
      t.notOk(logs.includes(secret), `${name} is not in the logs`)
      t.notOk(values.includes(secret), `${name} is not in Redis in the clear`)
    }
    t.notOk(/[?&]code=/.test(logs), 'no callback query in the logs')
  })
}

t.test('an encryption key rotation keeps connections readable', async (t) => {
  const oldKey = Buffer.alloc(32, 7).toString('base64')
  const newKey = Buffer.alloc(32, 9).toString('base64')
  const ctx = await build(t)
  const browser = new Browser()
  const start = await browser.get(`${ctx.origin}/healow/authorize?tenant=${ctx.tenant.id}`)
  const atPractice = await browser.get(start.location ?? '')
  const done = await browser.get(atPractice.location ?? '')
  const id = new URL(done.location ?? '').searchParams.get('connection') ?? ''
  const before = await ctx.app.healow.connections.readTokens(id)

  const { createKeyring } = await import('../../core/crypto.js')
  const { createConnectionStore } = await import('../../core/connections.js')
  const { resolveConfig } = await import('../../core/config.js')
  const { config } = resolveConfig({ publicUrl: 'https://x.example', clientId: 'c', cookieSecret: 'c'.repeat(32), encryptionKey: `${newKey},${oldKey}` })
  const keyring = createKeyring(config.encryptionKeys)
  const store = createConnectionStore({ redis: ctx.redis.client, keys: ctx.app.healow.keys, keyring, keyPrefix: ctx.redis.keyPrefix })
  const read = await store.readTokens(id)
  t.same(read, before, 'old values still decrypt with the old key listed second')
  const sealedBefore = await ctx.redis.client.get(ctx.app.healow.keys.tokens(id)) ?? ''
  t.equal(keyring.needsRotation(sealedBefore), true)
  if (read !== undefined) await store.writeTokens(id, read)
  const sealedAfter = await ctx.redis.client.get(ctx.app.healow.keys.tokens(id)) ?? ''
  t.equal(keyring.needsRotation(sealedAfter), false, 'new writes use the newest key')
  t.equal(sealedAfter.split('.')[1], keyring.currentKeyId)
})
