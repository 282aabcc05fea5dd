import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { createKeyring } from '../../core/crypto.js'
import { createFhirClient, type FhirClient, type FhirRequestContext } from '../../core/fhir-client.js'
import { pageSearch } from '../../core/fhir-paging.js'
import { createHttpAgent, createPracticeFetch } from '../../core/http.js'
import { createKeys, type Keys } from '../../core/keys.js'
import { createPracticeBudget } from '../../core/practice-budget.js'
import { canonicalJson, createRecordStore, recordStoreKeys, type RecordStore, type UpsertResult } from '../../core/record-store.js'
import { buildSearchPlan } from '../../core/search-plan.js'
import { startSandbox, type Sandbox } from '../../sandbox/index.js'
import { keysByPrefix, useRedis } from '../helpers/redis.js'

const CONN = 'conn-1'

interface Setup { redis: Redis, url: string, keys: Keys, keyPrefix: string, store: RecordStore, keyring: ReturnType<typeof createKeyring> }

async function useStore (t: Test): Promise<Setup> {
  const { client: redis, url, keyPrefix } = await useRedis(t)
  const keys = createKeys(keyPrefix)
  const keyring = createKeyring([{ id: 'k1', key: randomBytes(32) }])
  return { redis, url, keys, keyPrefix, keyring, store: createRecordStore({ redis, keys, keyring }) }
}

async function useSandboxSync (t: Test, s: Setup): Promise<{ sandbox: Sandbox, sync: () => Promise<UpsertResult> }> {
  const sandbox = await startSandbox()
  t.teardown(async () => { await sandbox.close() })
  const budget = createPracticeBudget({ redis: s.redis, keys: s.keys, limitPerMinute: 10_000 })
  const agent = createHttpAgent()
  t.teardown(async () => { await agent.close() })
  const client: FhirClient = createFhirClient({ fetch: createPracticeFetch({ budget, agent }), budget, allowLoopbackHttp: true })
  const { access_token: token } = await sandbox.issueTokens()
  const ctx: FhirRequestContext = { practiceId: sandbox.practiceCode, baseUrl: sandbox.fhirBaseUrl, getAccessToken: async () => token, onUnauthorized: async () => token }
  async function sync (): Promise<UpsertResult> {
    const sum = { added: 0, updated: 0, unchanged: 0 }
    for (const search of buildSearchPlan(sandbox.patientId)) {
      for await (const page of pageSearch(client, ctx, search)) {
        const r = await s.store.upsertPage(CONN, page.resources)
        sum.added += r.added
        sum.updated += r.updated
        sum.unchanged += r.unchanged
      }
    }
    return sum
  }
  return { sandbox, sync }
}

t.test('a sync stored twice: the second writes nothing and moves no sequence', async (t) => {
  const s = await useStore(t)
  const { sandbox, sync } = await useSandboxSync(t, s)
  const expected = sandbox.expectedCounts()
  const total = expected.total + 1
  t.same(await sync(), { added: total, updated: 0, unchanged: 0 })
  const seq = await s.store.latestSeq(CONN)
  t.equal(seq, total, 'one sequence per record, no gaps')
  t.same(await s.store.countByType(CONN), Object.fromEntries(Object.entries({ ...expected.byType, Patient: 1 }).filter(([, n]) => n > 0).sort(([a], [b]) => a < b ? -1 : 1)))
  t.same(await sync(), { added: 0, updated: 0, unchanged: total })
  t.equal(await s.store.latestSeq(CONN), seq, 'sequence unchanged')
  t.equal(await s.redis.hlen(s.keys.records(CONN)), total, 'no duplicates')
  t.equal(await s.redis.zcard(s.keys.recordChanges(CONN)), total)
  t.same(await s.store.listChanges(CONN, { since: seq }), { records: [], nextSince: undefined }, 'nothing changed')
})

t.test('changed and new records at the practice: exactly those come back from since', async (t) => {
  const s = await useStore(t)
  const { sandbox, sync } = await useSandboxSync(t, s)
  await sync()
  const since = await s.store.latestSeq(CONN)
  const conditions = sandbox.touch(sandbox.patientId, 'Condition', 2)
  const labs = sandbox.touch(sandbox.patientId, 'Observation', { added: 1, category: 'vital-signs' })
  const result = await sync()
  t.same(result, { added: 1, updated: 2, unchanged: sandbox.expectedCounts().total + 1 - 3 })
  const { records, nextSince } = await s.store.listChanges(CONN, { since })
  t.equal(nextSince, undefined)
  t.same(records.map((r) => `${r.type}/${r.id}`).sort(), [...conditions.updated.map((id) => `Condition/${id}`), ...labs.added.map((id) => `Observation/${id}`)].sort())
  t.same(records.map((r) => r.seq), [since + 1, since + 2, since + 3], 'ordered by sequence, no gaps')
  const updated = await s.store.get(CONN, 'Condition', conditions.updated[0]!)
  t.equal((updated?.meta as { versionId: string }).versionId, '2', 'the new version is stored')
  t.equal(records.find((r) => r.id === conditions.updated[0])?.resource.id, conditions.updated[0])
  t.same(await s.store.listChanges(CONN, { since, type: 'Observation' }).then((r) => r.records.map((x) => x.id)), labs.added)
})

t.test('change detection: key order is not a change, meta is', async (t) => {
  const { store } = await useStore(t)
  const a = { resourceType: 'Condition', id: 'c1', meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00Z' }, code: { text: 'Asthma', coding: [{ code: 'J45', system: 's' }] } }
  const shuffled = { code: { coding: [{ system: 's', code: 'J45' }], text: 'Asthma' }, meta: { lastUpdated: '2024-01-01T00:00:00Z', versionId: '1' }, id: 'c1', resourceType: 'Condition' }
  t.same(await store.upsertPage(CONN, [a]), { added: 1, updated: 0, unchanged: 0 })
  t.same(await store.upsertPage(CONN, [shuffled]), { added: 0, updated: 0, unchanged: 1 })
  t.equal(canonicalJson(a), canonicalJson(shuffled))
  t.match(canonicalJson(shuffled), /^\{"resourceType":"Condition","id":"c1","code":/)
  t.same(await store.upsertPage(CONN, [{ ...a, meta: { ...a.meta, versionId: '2' } }]), { added: 0, updated: 1, unchanged: 0 }, 'a new versionId is a change')
  t.same(await store.upsertPage(CONN, [{ ...a, meta: { ...a.meta, versionId: '2' }, code: { ...a.code, coding: [{ code: 'J45', system: 's' }, { code: 'x', system: 's' }] } }]), { added: 0, updated: 1, unchanged: 0 }, 'array content is content')
  t.equal(await store.latestSeq(CONN), 3)
  t.same(await store.countByType(CONN), { Condition: 1 }, 'updates do not count twice')
})

t.test('repeated and concurrent pages write no duplicates and skip no sequence', async (t) => {
  const s = await useStore(t)
  const page = Array.from({ length: 50 }, (_, i) => ({ resourceType: i % 2 === 0 ? 'Observation' : 'Condition', id: `r${i}`, value: i }))
  // Five processes store the same page at once, each on its own connection.
  const stores = Array.from({ length: 5 }, () => {
    const redis = new Redis(s.url, { maxRetriesPerRequest: 3 })
    t.teardown(async () => { await redis.quit() })
    return createRecordStore({ redis, keys: s.keys, keyring: s.keyring })
  })
  const results = await Promise.all(stores.map(async (store) => await store.upsertPage(CONN, page)))
  t.equal(results.reduce((n, r) => n + r.added, 0), 50, 'every record added once')
  t.equal(results.reduce((n, r) => n + r.unchanged, 0), 200, 'the others found them unchanged')
  t.equal(await s.store.latestSeq(CONN), 50)
  t.same(await s.store.countByType(CONN), { Condition: 25, Observation: 25 })
  t.same(await s.store.upsertPage(CONN, [...page.slice(0, 3), { ...page[0]!, value: 'last wins' }]), { added: 0, updated: 1, unchanged: 2 }, 'a record twice in one page: the last one counts')
  t.equal((await s.store.get(CONN, 'Observation', 'r0'))?.value, 'last wins')
  t.equal(await s.redis.hlen(s.keys.records(CONN)), 50)
  t.same(await s.store.upsertPage(CONN, []), { added: 0, updated: 0, unchanged: 0 })
})

t.test('nothing readable in Redis; values are bound to their connection and record', async (t) => {
  const s = await useStore(t)
  const { sandbox, sync } = await useSandboxSync(t, s)
  await sync()
  const name = sandbox.patients[0]!.name
  const patient = await s.store.get(CONN, 'Patient', sandbox.patientId)
  t.ok(JSON.stringify(patient).includes(name.split(' ')[0]!), 'the stored Patient holds the name')
  const dump: string[] = []
  for (const key of await keysByPrefix(s.redis, s.keyPrefix)) {
    dump.push(key)
    const type = await s.redis.type(key)
    if (type === 'hash') dump.push(...Object.entries(await s.redis.hgetall(key)).flat())
    if (type === 'zset') dump.push(...await s.redis.zrange(key, 0, -1))
    if (type === 'string') dump.push(await s.redis.get(key) ?? '')
  }
  const text = dump.join('\n')
  for (const secret of [name, ...name.split(' '), 'Clinical document', '"resourceType"']) t.notOk(text.includes(secret), `"${secret}" is not in Redis`)
  t.ok(text.includes('v1.k1.'), 'values are sealed')

  const [first, second] = (await s.redis.hkeys(s.keys.records(CONN))).slice(0, 2) as [string, string]
  await s.redis.hset(s.keys.records(CONN), second, (await s.redis.hget(s.keys.records(CONN), first))!)
  await t.rejects(s.store.get(CONN, second.split('/')[0]!, second.split('/')[1]!), { code: 'HEALOW_ERR_DECRYPT' }, 'a value moved to another record does not open')
  await s.redis.copy(s.keys.records(CONN), s.keys.records('conn-2'))
  await t.rejects(s.store.get('conn-2', first.split('/')[0]!, first.split('/')[1]!), { code: 'HEALOW_ERR_DECRYPT' }, 'nor in another connection')
  await s.store.removeAll('conn-2')
})

t.test('removeAll leaves no key; a partial delete elsewhere does not leave stale counts', async (t) => {
  const s = await useStore(t)
  await s.store.upsertPage(CONN, [{ resourceType: 'Goal', id: 'g1' }, { resourceType: 'Goal', id: 'g2' }])
  await s.store.upsertPage('conn-2', [{ resourceType: 'Goal', id: 'g1' }])
  t.equal((await keysByPrefix(s.redis, `{c:${CONN}}`)).length, 5, 'records, changes, changes:Goal, seq, types')
  await s.store.removeAll(CONN)
  t.same(await keysByPrefix(s.redis, `{c:${CONN}}`), [], 'no key of the connection is left')
  t.same(await s.store.countByType(CONN), {})
  t.same(await s.store.listChanges(CONN, {}), { records: [], nextSince: undefined })
  t.same(await s.store.countByType('conn-2'), { Goal: 1 }, 'other connections are untouched')

  // A connection delete that only knows the records and changes keys:
  await s.redis.del(s.keys.records('conn-2'), s.keys.recordChanges('conn-2'))
  t.same(await s.store.countByType('conn-2'), {}, 'counts without records are ignored')
  await s.store.upsertPage('conn-2', [{ resourceType: 'Device', id: 'd1' }])
  t.same(await s.store.countByType('conn-2'), { Device: 1 }, 'and reset on the next write')
  t.same(await s.store.listChanges('conn-2', { type: 'Goal' }), { records: [], nextSince: undefined }, 'with the stale per-type changes')
  t.equal(await s.redis.exists(`${s.keys.recordChanges('conn-2')}:Goal`), 0)
  t.same(recordStoreKeys(s.keys, 'conn-2').map((k) => k.includes('{c:conn-2}')), [true, true, true, true], 'every key carries the hash tag')
  t.same((await keysByPrefix(s.redis, '{c:conn-2}')).every((k) => k.startsWith(`${s.keyPrefix}:{c:conn-2}:`)), true)
})

t.test('bad input', async (t) => {
  const { store } = await useStore(t)
  await t.rejects(store.upsertPage(CONN, [{ resourceType: 'Bad/Type', id: 'x' }]), { code: 'HEALOW_ERR_INVALID_RECORD' })
  await t.rejects(store.upsertPage(CONN, [{ resourceType: 'Condition', id: 'a/b' }]), { code: 'HEALOW_ERR_INVALID_RECORD', message: /Condition id/ })
  await t.rejects(store.upsertPage(CONN, [{ resourceType: 'Condition', id: '' }]), { code: 'HEALOW_ERR_INVALID_RECORD' })
  await t.rejects(store.upsertPage('bad}id', [{ resourceType: 'Condition', id: 'x' }]), { code: 'HEALOW_ERR_INVALID_ID' })
  t.equal(await store.get(CONN, 'Condition', 'a/b'), undefined)
  t.equal(await store.get(CONN, 'Condition', 'missing'), undefined)
  await t.rejects(store.listChanges(CONN, { limit: 0 }), RangeError)
  await t.rejects(store.listChanges(CONN, { limit: 1001 }), RangeError)
  await t.rejects(store.listChanges(CONN, { since: -1 }), RangeError)
  await t.rejects(store.listChanges(CONN, { type: 'Bad/Type' }), RangeError)
  t.equal(await store.latestSeq(CONN), 0)
})
