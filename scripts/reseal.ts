/**
 * `npm run reseal` (`tsx scripts/reseal.ts`)
 *
 * Key rotation without downtime:
 * 1. put the new key first in HEALOW_ENCRYPTION_KEY (`new,old`) and restart
 *    every host and worker, so nothing seals with the old key any more;
 * 2. run this with that same environment: it re-seals every token and
 *    record still on an older key (safe while syncs run: a value written
 *    meanwhile is never overwritten);
 * 3. after it reports zero values left on old keys, the old key can be
 *    removed from HEALOW_ENCRYPTION_KEY. Pending sign-ins (OAuth state) are
 *    not re-sealed: they expire within 10 minutes of step 1.
 *
 * Prints one summary line and exits 0; a configuration error exits 1.
 */
import { Redis } from 'ioredis'
import { ConfigError, readEnv, resolveConfig } from '../core/config.js'
import { createConnectionStore } from '../core/connections.js'
import { createKeyring } from '../core/crypto.js'
import { createKeys } from '../core/keys.js'
import { resealAll } from '../core/reseal.js'

async function main (): Promise<number> {
  const options = readEnv()
  let config
  try {
    config = resolveConfig(options).config
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      return 1
    }
    throw err
  }
  // Without a key set, the configuration falls back to a random one (sandbox):
  // re-sealing with it would make every stored value unreadable.
  if (options.encryptionKey === undefined || String(options.encryptionKey).trim() === '') {
    process.stderr.write('reseal: HEALOW_ENCRYPTION_KEY is not set: set the keys, newest first, comma-separated\n')
    return 1
  }
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 })
  try {
    const keys = createKeys(config.keyPrefix)
    const keyring = createKeyring(config.encryptionKeys)
    const connections = createConnectionStore({ redis, keys, keyring, keyPrefix: config.keyPrefix })
    const s = await resealAll({ redis, keys, keyring, connections })
    const left = s.changedMeanwhile + s.unreadable
    process.stdout.write(`reseal: ${s.connections} connections, re-sealed ${s.tokens} tokens and ${s.records} records with key ${keyring.currentKeyId}, ` +
      `${s.alreadyCurrent} already current, ${s.changedMeanwhile} changed meanwhile, ${s.unreadable} unreadable; ` +
      `${left} values left on old keys${left === 0 ? '' : ' (run again; unreadable ones need the key that sealed them)'}\n`)
    return 0
  } finally {
    await redis.quit()
  }
}

process.exitCode = await main()
