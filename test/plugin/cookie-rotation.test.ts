import t from 'tap'
import { createDirectory } from '../../core/directory.js'
import { build } from '../helpers/build.js'
import { connect } from '../helpers/connect.js'

const OLD_KEY = Buffer.alloc(32, 21).toString('base64')
const NEW_KEY = Buffer.alloc(32, 42).toString('base64')

t.test('with no cookie secret set, a key rotation keeps every device: old cookies are verified, then signed again', async (t) => {
  const before = await build(t, { plugin: { cookieSecret: undefined, encryptionKey: OLD_KEY } })
  const { connectionId, browser } = await connect(before)
  const oldCookie = browser.cookies.get(before.origin)?.get('healow_device') ?? ''
  t.ok(oldCookie.length > 0)

  // Another instance on the same Redis after the rotation: new key first, old key kept.
  const after = await build(t, {
    plugin: {
      cookieSecret: undefined,
      encryptionKey: [NEW_KEY, OLD_KEY],
      redisUrl: before.redis.url,
      keyPrefix: before.redis.keyPrefix,
      directory: createDirectory([before.tenant])
    }
  })
  browser.cookies.set(after.origin, new Map([['healow_device', oldCookie]]))
  const res = await browser.get(`${after.origin}/healow/connections/${connectionId}`)
  t.equal(res.status, 200, 'the same user, by the old cookie')
  const renewed = browser.cookies.get(after.origin)?.get('healow_device') ?? ''
  t.not(renewed, oldCookie, 'signed again with the newest secret')
  t.equal(renewed.split('.')[0], oldCookie.split('.')[0], 'the same device id')

  // Once the old key is retired, the renewed cookie still works; the old one does not.
  const retired = await build(t, {
    plugin: { cookieSecret: undefined, encryptionKey: NEW_KEY, redisUrl: before.redis.url, keyPrefix: before.redis.keyPrefix, directory: createDirectory([before.tenant]) }
  })
  browser.cookies.set(retired.origin, new Map([['healow_device', renewed]]))
  t.equal((await browser.get(`${retired.origin}/healow/connections/${connectionId}`)).status, 200)
  browser.cookies.set(retired.origin, new Map([['healow_device', oldCookie]]))
  t.equal((await browser.get(`${retired.origin}/healow/connections/${connectionId}`)).status, 404, 'an old-key cookie is a stranger now')
})
