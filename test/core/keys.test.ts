import t from 'tap'
import { createKeys, isSafeId } from '../../core/keys.js'

// Redis Cluster key slot: CRC16-XMODEM of the hash tag (or the whole key) mod 16384.
function crc16 (data: Buffer): number {
  let crc = 0
  for (const byte of data) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

function keySlot (key: string): number {
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) return crc16(Buffer.from(key.slice(open + 1, close))) % 16384
  }
  return crc16(Buffer.from(key)) % 16384
}

t.test('the CRC16 used for slots matches the Redis Cluster spec reference values', async (t) => {
  t.equal(crc16(Buffer.from('123456789')), 0x31c3)
  t.equal(keySlot('foo'), 12182)
  t.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'))
})

t.test('key names follow the documented layout', async (t) => {
  const keys = createKeys('healow')
  t.equal(keys.connection('abc'), 'healow:{c:abc}:conn')
  t.equal(keys.tokens('abc'), 'healow:{c:abc}:tokens')
  t.equal(keys.refreshLock('abc'), 'healow:{c:abc}:lock:refresh')
  t.equal(keys.records('abc'), 'healow:{c:abc}:records')
  t.equal(keys.recordChanges('abc'), 'healow:{c:abc}:changes')
  t.equal(keys.syncStatus('abc'), 'healow:{c:abc}:sync')
  t.equal(keys.connectionIndex(), 'healow:connections')
  t.equal(keys.authState('s_1-x'), 'healow:{s:s_1-x}:auth')
  t.equal(keys.practiceBudget('JAFJCD'), 'healow:{p:JAFJCD}:budget')
  t.equal(keys.practicePause('JAFJCD'), 'healow:{p:JAFJCD}:pause')
  t.equal(keys.userConnections('alice'), `healow:{u:${Buffer.from('alice').toString('base64url')}}:conns`)
  t.equal(keys.proxyLimit('alice'), `healow:{u:${Buffer.from('alice').toString('base64url')}}:proxy`)
})

t.test('every key of one connection is in one cluster slot', async (t) => {
  const keys = createKeys('healow')
  for (const id of ['abc', 'Zz9_-', 'c'.repeat(128)]) {
    const all = [keys.connection(id), keys.tokens(id), keys.refreshLock(id), keys.records(id), keys.recordChanges(id), keys.syncStatus(id)]
    const slots = new Set(all.map(keySlot))
    t.equal(slots.size, 1, `one slot for ${id.slice(0, 8)}`)
    t.equal([...slots][0], crc16(Buffer.from(`c:${id}`)) % 16384)
  }
  // Different connections spread over slots instead of piling on one.
  const spread = new Set(Array.from({ length: 200 }, (_, i) => keySlot(keys.connection(`conn${i}`))))
  t.ok(spread.size > 150, `200 connections use ${spread.size} slots`)
})

t.test('the practice budget and pause keys share a slot, whatever the case of the code', async (t) => {
  const keys = createKeys('healow')
  t.equal(keySlot(keys.practiceBudget('JAFJCD')), keySlot(keys.practicePause('JAFJCD')))
  t.equal(keys.practiceBudget('jafjcd'), keys.practiceBudget('JAFJCD'))
  t.equal(keys.practicePause('JaFjCd'), 'healow:{p:JAFJCD}:pause')
})

t.test('user ids cannot break the hash tag', async (t) => {
  const keys = createKeys('healow')
  const hostile = 'a}:{c:victim}:tokens'
  const key = keys.userConnections(hostile)
  t.notOk(key.includes('victim'))
  t.equal(key.split('{').length, 2, 'one opening brace')
  t.equal(key.split('}').length, 2, 'one closing brace')
  t.equal(keySlot(key), keySlot(keys.proxyLimit(hostile)))
  t.not(keys.userConnections('a'), keys.userConnections('b'))
  t.equal(keys.userConnections('ünïcødé 👋'), `healow:{u:${Buffer.from('ünïcødé 👋').toString('base64url')}}:conns`)
  t.throws(() => keys.userConnections(''), { code: 'HEALOW_ERR_INVALID_ID' })
  t.throws(() => keys.proxyLimit('x'.repeat(1025)), { code: 'HEALOW_ERR_INVALID_ID' })
})

t.test('ids that could break a tag are refused with a coded error', async (t) => {
  const keys = createKeys('healow')
  for (const bad of ['', 'a}b', 'a:b', '{a}', 'a b', 'a/b', 'x'.repeat(129)]) {
    t.throws(() => keys.connection(bad), { code: 'HEALOW_ERR_INVALID_ID', statusCode: 400 }, JSON.stringify(bad.slice(0, 10)))
    t.throws(() => keys.authState(bad), { code: 'HEALOW_ERR_INVALID_ID' })
    t.throws(() => keys.practiceBudget(bad), { code: 'HEALOW_ERR_INVALID_ID' })
    t.equal(isSafeId(bad), false)
  }
  t.throws(() => keys.tokens(42 as unknown as string), { code: 'HEALOW_ERR_INVALID_ID' })
  t.equal(isSafeId('abc_DEF-123'), true)
})

t.test('the prefix is checked', async (t) => {
  for (const bad of ['', 'a{b', 'a}b', 'a b', 'x'.repeat(65)]) {
    t.throws(() => createKeys(bad), { code: 'HEALOW_ERR_INVALID_ID' }, JSON.stringify(bad.slice(0, 10)))
  }
  t.equal(createKeys('t-keys.1').connection('a'), 't-keys.1:{c:a}:conn')
})
