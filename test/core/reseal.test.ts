import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import type { Redis } from 'ioredis'
import { createConnectionStore, type ConnectionStore } from '../../core/connections.js'
import { createKeyring, type Keyring } from '../../core/crypto.js'
import type { Tenant } from '../../core/directory.js'
import { createKeys, type Keys } from '../../core/keys.js'
import type { TokenSet } from '../../core/oauth.js'
import { createRecordStore } from '../../core/record-store.js'
import { compareAndSetRecords, compareAndSetToken, resealAll } from '../../core/reseal.js'
import { useRedis } from '../helpers/redis.js'

const OLD = { id: 'old', key: randomBytes(32) }
const NEW = { id: 'new', key: randomBytes(32) }

const TENANT: Tenant = { id: 'PRACT1', name: 'Practice One', url: 'https://fhir.example.test/r4/PRACT1', authorize: 'https://auth.example.test/a', token: 'https://auth.example.test/t' }

function tokensFor (n: number): TokenSet {
  return { accessToken: `access-${n}`, refreshToken: `refresh-${n}`, expiresAt: 1_900_000_000_000 + n, obtainedAt: 1_800_000_000_000, scope: 'patient/*.read', patientId: `pat-${n}` }
}

function observations (count: number): Array<{ resourceType: string, id: string, [key: string]: unknown }> {
  return Array.from({ length: count }, (_, i) => ({ resourceType: 'Observation', id: `obs-${i}`, status: 'final', valueQuantity: { value: i } }))
}

interface Seeded { redis: Redis, keys: Keys, keyPrefix: string, ids: string[], stores: (keyring: Keyring) => { connections: ConnectionStore, records: ReturnType<typeof createRecordStore> } }

/** Two connections sealed with the old key only: 1 token + 150 records, 1 token + 2 records. */
async function seedOld (t: Test): Promise<Seeded> {
  const { client: redis, keyPrefix } = await useRedis(t)
  const keys = createKeys(keyPrefix)
  const stores = (keyring: Keyring): ReturnType<Seeded['stores']> => ({
    connections: createConnectionStore({ redis, keys, keyring, keyPrefix }),
    records: createRecordStore({ redis, keys, keyring })
  })
  const old = stores(createKeyring([OLD]))
  const a = await old.connections.upsert({ userId: 'user-a', tenant: TENANT, patientId: 'pat-0', mode: 'confidential', tokens: tokensFor(0) })
  const b = await old.connections.upsert({ userId: 'user-b', tenant: TENANT, patientId: 'pat-1', mode: 'confidential', tokens: tokensFor(1) })
  await old.connections.writeTokens(b.connection.id, tokensFor(2))
  await old.records.upsertPage(a.connection.id, observations(150))
  await old.records.upsertPage(b.connection.id, [{ resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Doe' }] }, { resourceType: 'Condition', id: 'c-1', code: { text: 'x' } }])
  return { redis, keys, keyPrefix, ids: [a.connection.id, b.connection.id], stores }
}

async function storedValues (redis: Redis, keys: Keys, ids: string[]): Promise<string[]> {
  const out: string[] = []
  for (const id of ids) {
    out.push((await redis.get(keys.tokens(id)))!)
    out.push(...Object.values(await redis.hgetall(keys.records(id))))
  }
  return out
}

t.test('re-seals every token and record with the newest key; only the new key is needed afterwards', async (t) => {
  const s = await seedOld(t)
  const ring = createKeyring([NEW, OLD])
  const seqBefore = await s.stores(ring).records.latestSeq(s.ids[0]!)
  const before = await storedValues(s.redis, s.keys, s.ids)
  t.equal(before.length, 2 + 152)
  t.ok(before.every((v) => v.startsWith('v1.old.')), 'seeded with the old key')

  const summary = await resealAll({ redis: s.redis, keys: s.keys, keyring: ring, connections: s.stores(ring).connections, batchSize: 7 })
  t.same(summary, { connections: 2, tokens: 2, records: 152, alreadyCurrent: 0, changedMeanwhile: 0, unreadable: 0 })

  const after = await storedValues(s.redis, s.keys, s.ids)
  t.equal(after.length, 154)
  t.ok(after.every((v) => v.startsWith('v1.new.') && !ring.needsRotation(v)), 'every value on the new key')

  const onlyNew = s.stores(createKeyring([NEW]))
  t.same(await onlyNew.connections.readTokens(s.ids[0]!), tokensFor(0))
  t.same(await onlyNew.connections.readTokens(s.ids[1]!), tokensFor(2))
  t.same(await onlyNew.records.get(s.ids[0]!, 'Observation', 'obs-149'), { resourceType: 'Observation', id: 'obs-149', status: 'final', valueQuantity: { value: 149 } })
  t.same(await onlyNew.records.get(s.ids[1]!, 'Patient', 'pat-1'), { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Doe' }] })
  const listed = await onlyNew.records.listChanges(s.ids[0]!, { limit: 1000 })
  t.equal(listed.records.length, 150, 'every record opens with the new key alone')
  t.equal(await onlyNew.records.latestSeq(s.ids[0]!), seqBefore, 're-sealing is not a change: no sequence moved')
  t.same(await onlyNew.records.upsertPage(s.ids[0]!, observations(150)), { added: 0, updated: 0, unchanged: 150 }, 'the same page after re-sealing is unchanged')

  const again = await resealAll({ redis: s.redis, keys: s.keys, keyring: ring, connections: s.stores(ring).connections })
  t.same(again, { connections: 2, tokens: 0, records: 0, alreadyCurrent: 154, changedMeanwhile: 0, unreadable: 0 }, 'a second run re-seals nothing')
  t.same(await storedValues(s.redis, s.keys, s.ids), after, 'and writes nothing')
})

t.test('a value written between the read and the write is never overwritten', async (t) => {
  const s = await seedOld(t)
  const ring = createKeyring([NEW, OLD])
  const id = s.ids[1]!
  const recordsKey = s.keys.records(id)
  const readPatient = (await s.redis.hget(recordsKey, 'Patient/pat-1'))!
  const readCondition = (await s.redis.hget(recordsKey, 'Condition/c-1'))!
  const readToken = (await s.redis.get(s.keys.tokens(id)))!

  // A sync and a refresh land first (still sealed with the old key, as a process not yet restarted would).
  const old = s.stores(createKeyring([OLD]))
  await old.records.upsertPage(id, [{ resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Roe' }] }])
  await old.connections.writeTokens(id, tokensFor(3))
  const newerPatient = (await s.redis.hget(recordsKey, 'Patient/pat-1'))!
  const newerToken = (await s.redis.get(s.keys.tokens(id)))!

  const written = await compareAndSetRecords(s.redis, recordsKey, [
    { field: 'Patient/pat-1', expected: readPatient, sealed: ring.reseal(readPatient, `record:${id}:Patient/pat-1`) },
    { field: 'Condition/c-1', expected: readCondition, sealed: ring.reseal(readCondition, `record:${id}:Condition/c-1`) },
    { field: 'Gone/x', expected: readCondition, sealed: 'v1.new.x.y.z' }
  ])
  t.equal(written, 1, 'only the unchanged record is written')
  t.equal(await s.redis.hget(recordsKey, 'Patient/pat-1'), newerPatient, 'the newer record stays')
  t.equal(await s.redis.hexists(recordsKey, 'Gone/x'), 0, 'a missing field is not created')
  t.ok((await s.redis.hget(recordsKey, 'Condition/c-1'))!.startsWith('v1.new.'))

  t.equal(await compareAndSetToken(s.redis, s.keys.tokens(id), readToken, ring.reseal(readToken, `tokens:${id}`)), false)
  t.equal(await s.redis.get(s.keys.tokens(id)), newerToken, 'the refreshed token stays')
  t.equal(await compareAndSetToken(s.redis, s.keys.tokens('no-such'), readToken, 'v1.new.a.b.c'), false)
  t.equal(await s.redis.exists(s.keys.tokens('no-such')), 0, 'a removed token is not brought back')

  const both = s.stores(ring)
  t.same(await both.records.get(id, 'Patient', 'pat-1'), { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Roe' }] })
  t.same(await both.connections.readTokens(id), tokensFor(3))

  // The next full run picks up what the race left on the old key.
  const summary = await resealAll({ redis: s.redis, keys: s.keys, keyring: ring, connections: both.connections })
  t.same(summary, { connections: 2, tokens: 2, records: 151, alreadyCurrent: 1, changedMeanwhile: 0, unreadable: 0 })
  t.same(await s.stores(createKeyring([NEW])).records.get(id, 'Patient', 'pat-1'), { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Roe' }] })
})

t.test('values no configured key opens are counted and left as they are', async (t) => {
  const s = await seedOld(t)
  const ring = createKeyring([NEW])
  const before = await storedValues(s.redis, s.keys, s.ids)
  const summary = await resealAll({ redis: s.redis, keys: s.keys, keyring: ring, connections: s.stores(ring).connections })
  t.same(summary, { connections: 2, tokens: 0, records: 0, alreadyCurrent: 0, changedMeanwhile: 0, unreadable: 154 })
  t.same(await storedValues(s.redis, s.keys, s.ids), before)
})
