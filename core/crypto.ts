import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import createError from '@fastify/error'
import type { EncryptionKey } from './config.js'

/**
 * Encryption at rest for tokens and synced records: AES-256-GCM (NIST SP
 * 800-38D) with a 96-bit random IV and a 128-bit tag. Each sealed value names
 * the key that sealed it, so a new key can be put first in
 * HEALOW_ENCRYPTION_KEY while values sealed with older keys still open
 * (rotation without downtime), and re-sealed lazily.
 *
 * Format: `v1.<keyId>.<iv>.<tag>.<ciphertext>`, the last three base64url.
 * The caller's `aad` (say the connection id and the record key) is
 * authenticated with the version and key id, so a value copied to another
 * key or connection fails to open.
 */

const VERSION = 'v1'
const ALGORITHM = 'aes-256-gcm'
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
const KEY_ID_RE = /^[A-Za-z0-9_-]{1,64}$/
const B64URL_RE = /^[A-Za-z0-9_-]*$/

/** Never carries plaintext, key bytes or the sealed value: only what kind of failure. */
export const DecryptError = createError<'HEALOW_ERR_DECRYPT', 500, [string]>(
  'HEALOW_ERR_DECRYPT', 'Cannot decrypt a stored value: %s', 500)

export const KeyringError = createError<'HEALOW_ERR_KEYRING', 500, [string]>(
  'HEALOW_ERR_KEYRING', 'Invalid encryption keys: %s', 500)

export interface Keyring {
  /** Seals with the newest key. */
  encrypt (plaintext: string | Buffer, aad: string): string
  /** Opens a value sealed with any listed key; throws `HEALOW_ERR_DECRYPT`. */
  decrypt (sealed: string, aad: string): Buffer
  /** {@link Keyring.decrypt} as UTF-8 text. */
  decryptString (sealed: string, aad: string): string
  /** True unless the value was sealed with the newest key (re-seal it when convenient). */
  needsRotation (sealed: string): boolean
  /** Opens and seals again with the newest key; returns the value itself when already current. */
  reseal (sealed: string, aad: string): string
  readonly currentKeyId: string
}

interface Parts { keyId: string, iv: Buffer, tag: Buffer, ciphertext: Buffer }

function parse (sealed: string): Parts {
  if (typeof sealed !== 'string') throw new DecryptError('not a sealed value')
  const parts = sealed.split('.')
  if (parts.length !== 5 || parts[0] !== VERSION) throw new DecryptError('unknown format')
  const [, keyId = '', iv = '', tag = '', ciphertext = ''] = parts
  if (!KEY_ID_RE.test(keyId) || ![iv, tag, ciphertext].every((p) => B64URL_RE.test(p))) {
    throw new DecryptError('malformed value')
  }
  const ivBytes = Buffer.from(iv, 'base64url')
  const tagBytes = Buffer.from(tag, 'base64url')
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw new DecryptError('malformed value')
  return { keyId, iv: ivBytes, tag: tagBytes, ciphertext: Buffer.from(ciphertext, 'base64url') }
}

/** The version and key id are authenticated too, not only the caller's context. */
function additionalData (keyId: string, aad: string): Buffer {
  return Buffer.from(`${VERSION}.${keyId}.${aad}`, 'utf8')
}

function checkKeys (keys: EncryptionKey[]): Map<string, Buffer> {
  if (!Array.isArray(keys) || keys.length === 0) throw new KeyringError('at least one key is needed')
  const byId = new Map<string, Buffer>()
  for (const { id, key } of keys) {
    if (!KEY_ID_RE.test(id)) throw new KeyringError('a key id must be 1 to 64 letters, digits, _ or -')
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new KeyringError(`key ${id} is not ${KEY_BYTES} bytes`)
    if (byId.has(id)) throw new KeyringError(`key id ${id} is listed twice`)
    byId.set(id, Buffer.from(key))
  }
  return byId
}

/**
 * The part of a sealed value that names one write: `v1.<keyId>.<iv>.<tag>.`.
 * IVs are random and never repeat, so compare-and-set scripts can check it
 * instead of sending the whole ciphertext back.
 */
export function writeIdOf (sealed: string): string {
  let dots = 0
  for (let i = 0; i < sealed.length; i++) {
    if (sealed[i] === '.' && ++dots === 4) return sealed.slice(0, i + 1)
  }
  return sealed
}

/**
 * Builds a keyring from keys newest first (`config.encryptionKeys`): the
 * first seals, every one opens. Throws `HEALOW_ERR_KEYRING` on bad keys.
 */
export function createKeyring (keys: EncryptionKey[]): Keyring {
  const byId = checkKeys(keys)
  const currentKeyId = keys[0]!.id
  const currentKey = byId.get(currentKeyId)!

  function encrypt (plaintext: string | Buffer, aad: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv(ALGORITHM, currentKey, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(additionalData(currentKeyId, aad))
    const input = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext
    const ciphertext = Buffer.concat([cipher.update(input), cipher.final()])
    const tag = cipher.getAuthTag()
    return [VERSION, currentKeyId, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join('.')
  }

  function decrypt (sealed: string, aad: string): Buffer {
    const { keyId, iv, tag, ciphertext } = parse(sealed)
    const key = byId.get(keyId)
    if (key === undefined) throw new DecryptError('sealed with a key that is not configured (unknown key id)')
    try {
      const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES })
      decipher.setAAD(additionalData(keyId, aad))
      decipher.setAuthTag(tag)
      return Buffer.concat([decipher.update(ciphertext), decipher.final()])
    } catch {
      // The cause is dropped on purpose: nothing from the crypto layer reaches a log.
      throw new DecryptError('authentication failed (tampered value or wrong context)')
    }
  }

  return {
    currentKeyId,
    encrypt,
    decrypt,
    decryptString: (sealed, aad) => decrypt(sealed, aad).toString('utf8'),
    needsRotation: (sealed) => {
      const parts = typeof sealed === 'string' ? sealed.split('.') : []
      return !(parts.length === 5 && parts[0] === VERSION && parts[1] === currentKeyId)
    },
    reseal: (sealed, aad) => {
      const plaintext = decrypt(sealed, aad)
      return sealed.split('.')[1] === currentKeyId ? sealed : encrypt(plaintext, aad)
    }
  }
}
