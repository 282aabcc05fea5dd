import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { createKeyring } from '../../core/crypto.js'
import type { EncryptionKey } from '../../core/config.js'

const oldKey: EncryptionKey = { id: 'old00001', key: randomBytes(32) }
const newKey: EncryptionKey = { id: 'new00002', key: randomBytes(32) }
const AAD = 'conn-1/tokens'
const SECRET = 'refresh-token-4f1c9a7e'

function noSecretsIn (t: Test, err: unknown, ...secrets: string[]): void {
  const text = `${String((err as Error).message)} ${String((err as Error).stack)} ${JSON.stringify(err)}`
  for (const s of secrets) t.notOk(text.includes(s), 'error text holds no secret material')
}

t.test('round trip of text and bytes', async (t) => {
  const ring = createKeyring([newKey])
  const sealed = ring.encrypt(SECRET, AAD)
  t.match(sealed, /^v1\.new00002\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/)
  t.equal(ring.decryptString(sealed, AAD), SECRET)
  const bytes = randomBytes(1000)
  t.same(ring.decrypt(ring.encrypt(bytes, AAD), AAD), bytes)
  t.equal(ring.decryptString(ring.encrypt('', AAD), AAD), '')
  t.equal(ring.decryptString(ring.encrypt('héllo ✓', AAD), AAD), 'héllo ✓')
  t.equal(ring.currentKeyId, 'new00002')
  t.equal(ring.needsRotation(sealed), false)
})

t.test('every value gets a fresh IV', async (t) => {
  const ring = createKeyring([newKey])
  const a = ring.encrypt(SECRET, AAD)
  const b = ring.encrypt(SECRET, AAD)
  t.not(a, b)
  t.not(a.split('.')[2], b.split('.')[2])
})

t.test('rotation: old values open with [new, old], are flagged, and re-seal with the new key', async (t) => {
  const before = createKeyring([oldKey])
  const sealed = before.encrypt(SECRET, AAD)
  t.equal(sealed.split('.')[1], 'old00001')

  const after = createKeyring([newKey, oldKey])
  t.equal(after.currentKeyId, 'new00002')
  t.equal(after.decryptString(sealed, AAD), SECRET)
  t.equal(after.needsRotation(sealed), true)

  const resealed = after.reseal(sealed, AAD)
  t.equal(resealed.split('.')[1], 'new00002')
  t.equal(after.needsRotation(resealed), false)
  t.equal(after.decryptString(resealed, AAD), SECRET)
  t.equal(after.reseal(resealed, AAD), resealed, 'a current value is returned as is')
  t.equal(createKeyring([newKey]).decryptString(resealed, AAD), SECRET, 'the old key can be dropped afterwards')
  t.throws(() => after.reseal(sealed, 'other'), { code: 'HEALOW_ERR_DECRYPT' })

  const reencrypted = after.encrypt(after.decrypt(sealed, AAD), AAD)
  t.equal(reencrypted.split('.')[1], 'new00002')
})

t.test('needsRotation is true for anything not sealed with the current key', async (t) => {
  const ring = createKeyring([newKey, oldKey])
  t.equal(ring.needsRotation('garbage'), true)
  t.equal(ring.needsRotation('v2.new00002.a.b.c'), true)
  t.equal(ring.needsRotation(undefined as unknown as string), true)
})

t.test('a tampered part fails with HEALOW_ERR_DECRYPT and no secret in the error', async (t) => {
  const ring = createKeyring([newKey, oldKey])
  const sealed = ring.encrypt(SECRET, AAD)
  const parts = sealed.split('.')
  const flip = (s: string): string => {
    const bytes = Buffer.from(s, 'base64url')
    bytes[0] = bytes[0]! ^ 0x01
    return bytes.toString('base64url')
  }
  const cases: Record<string, string> = {
    version: ['v2', ...parts.slice(1)].join('.'),
    'key id swapped to another known key': [parts[0], 'old00001', ...parts.slice(2)].join('.'),
    iv: [...parts.slice(0, 2), flip(parts[2]!), ...parts.slice(3)].join('.'),
    tag: [...parts.slice(0, 3), flip(parts[3]!), parts[4]].join('.'),
    ciphertext: [...parts.slice(0, 4), flip(parts[4]!)].join('.'),
    'truncated ciphertext': [...parts.slice(0, 4), parts[4]!.slice(0, -2)].join('.'),
    'short tag': [...parts.slice(0, 3), parts[3]!.slice(0, 10), parts[4]].join('.'),
    'extra part': `${sealed}.AAAA`,
    'bad characters': [...parts.slice(0, 4), `${parts[4]!}+/=`].join('.'),
    empty: ''
  }
  for (const [name, value] of Object.entries(cases)) {
    let caught: unknown
    t.throws(() => { try { ring.decrypt(value, AAD) } catch (err) { caught = err; throw err } }, { code: 'HEALOW_ERR_DECRYPT' }, name)
    noSecretsIn(t, caught, SECRET, newKey.key.toString('base64'), newKey.key.toString('base64url'), newKey.key.toString('hex'))
  }
})

t.test('a value moved to another record or connection does not open', async (t) => {
  const ring = createKeyring([newKey])
  const sealed = ring.encrypt(SECRET, 'conn-1/Patient/1')
  t.throws(() => ring.decrypt(sealed, 'conn-2/Patient/1'), { code: 'HEALOW_ERR_DECRYPT', message: /authentication failed/ })
  t.throws(() => ring.decrypt(sealed, 'conn-1/Patient/2'), { code: 'HEALOW_ERR_DECRYPT' })
  t.throws(() => ring.decrypt(sealed, ''), { code: 'HEALOW_ERR_DECRYPT' })
})

t.test('an unknown key id fails with a clear coded error', async (t) => {
  const sealed = createKeyring([oldKey]).encrypt(SECRET, AAD)
  const ring = createKeyring([newKey])
  let caught: unknown
  try { ring.decrypt(sealed, AAD) } catch (err) { caught = err }
  t.match(caught, { code: 'HEALOW_ERR_DECRYPT', message: /unknown key id/ })
  noSecretsIn(t, caught, SECRET, oldKey.key.toString('base64'), newKey.key.toString('base64'))
})

t.test('the ciphertext does not contain the plaintext', async (t) => {
  const ring = createKeyring([newKey])
  const long = 'A'.repeat(4096)
  for (const plain of [SECRET, long, 'Patient/123 diabetes '.repeat(100)]) {
    const sealed = ring.encrypt(plain, AAD)
    const decoded = Buffer.concat(sealed.split('.').slice(2).map((p) => Buffer.from(p, 'base64url')))
    t.notOk(sealed.includes(plain.slice(0, 16)), 'not in the sealed text')
    t.notOk(decoded.includes(Buffer.from(plain.slice(0, 16))), 'not in the decoded bytes')
    t.notOk(sealed.includes(Buffer.from(plain.slice(0, 16)).toString('base64url')), 'not base64 of it either')
  }
  // A repeated plaintext does not produce a repeated ciphertext (no ECB-like blocks).
  const bytes = Buffer.from(ring.encrypt(long, AAD).split('.')[4]!, 'base64url')
  t.equal(bytes.length, 4096)
  const blocks = new Set<string>()
  for (let i = 0; i < bytes.length; i += 16) blocks.add(bytes.subarray(i, i + 16).toString('hex'))
  t.equal(blocks.size, 256, 'every 16-byte block differs')
})

t.test('bad keyrings are refused', async (t) => {
  t.throws(() => createKeyring([]), { code: 'HEALOW_ERR_KEYRING' })
  t.throws(() => createKeyring([{ id: 'a', key: randomBytes(16) }]), { code: 'HEALOW_ERR_KEYRING' })
  t.throws(() => createKeyring([{ id: 'a.b', key: randomBytes(32) }]), { code: 'HEALOW_ERR_KEYRING' })
  t.throws(() => createKeyring([{ id: 'a', key: randomBytes(32) }, { id: 'a', key: randomBytes(32) }]), { code: 'HEALOW_ERR_KEYRING' })
})

t.test('the keyring copies its keys', async (t) => {
  const key = randomBytes(32)
  const ring = createKeyring([{ id: 'k', key }])
  const sealed = ring.encrypt(SECRET, AAD)
  key.fill(0)
  t.equal(ring.decryptString(sealed, AAD), SECRET)
})
