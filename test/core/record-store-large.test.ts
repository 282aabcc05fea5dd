import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createKeyring } from '../../core/crypto.js'
import { createKeys } from '../../core/keys.js'
import { createRecordStore, type StoredRecord } from '../../core/record-store.js'
import { useRedis } from '../helpers/redis.js'

const CONN = 'big-1'
const TOTAL = 20_000
const TYPES = ['Observation', 'Observation', 'Condition', 'Encounter'] as const

/** 20k records in pages of 500; every 4th a Condition; three Devices at the very end. */
function recordAt (i: number): { resourceType: string, id: string, [k: string]: unknown } {
  if (i >= TOTAL - 3) return { resourceType: 'Device', id: `d${i}`, status: 'active' }
  return { resourceType: TYPES[i % 4]!, id: `r${i}`, status: 'final', value: i, note: 'x'.repeat(200) }
}

t.test('a 20k-record store lists in bounded pages, each record exactly once', async (t) => {
  const { client: redis, keyPrefix } = await useRedis(t)
  const store = createRecordStore({ redis, keys: createKeys(keyPrefix), keyring: createKeyring([{ id: 'k1', key: randomBytes(32) }]) })
  for (let start = 0; start < TOTAL; start += 500) {
    const page = Array.from({ length: 500 }, (_, j) => recordAt(start + j))
    const result = await store.upsertPage(CONN, page)
    t.equal(result.added, 500, `page at ${start}`)
  }
  t.equal(await store.latestSeq(CONN), TOTAL)
  t.same(await store.countByType(CONN), { Condition: 4999, Device: 3, Encounter: 4999, Observation: 9999 })

  const seen = new Set<string>()
  const sizes: number[] = []
  let since: number | undefined = 0
  let lastSeq = 0
  let backwards = 0
  while (since !== undefined) {
    const { records, nextSince }: { records: StoredRecord[], nextSince: number | undefined } = await store.listChanges(CONN, { since, limit: 1000 })
    sizes.push(records.length)
    for (const r of records) {
      if (r.seq <= lastSeq) backwards++
      lastSeq = r.seq
      seen.add(`${r.type}/${r.id}`)
    }
    since = nextSince
  }
  t.same(sizes, Array(20).fill(1000), 'twenty pages of 1000, and nothing loaded beyond a page')
  t.equal(seen.size, TOTAL, 'every record exactly once')
  t.equal(backwards, 0, 'sequences only go up')

  // By type: the type's own change set, paged by score the same way.
  const conditions: string[] = []
  const conditionSizes: number[] = []
  since = 0
  while (since !== undefined) {
    const page = await store.listChanges(CONN, { since, type: 'Condition', limit: 700 })
    conditionSizes.push(page.records.length)
    conditions.push(...page.records.map((r) => r.id))
    since = page.nextSince
  }
  t.equal(conditions.length, 4999)
  t.ok(conditions.every((id) => Number(id.slice(1)) % 4 === 2), 'only Conditions')
  t.equal(new Set(conditions).size, 4999, 'each Condition once')
  t.same(conditionSizes, [...Array(7).fill(700), 99])

  const devices: number[] = []
  const deviceCalls: Array<[number, boolean]> = []
  since = 0
  while (since !== undefined) {
    const page = await store.listChanges(CONN, { since, type: 'Device', limit: 10 })
    deviceCalls.push([page.records.length, page.nextSince !== undefined])
    devices.push(...page.records.map((r) => r.seq))
    since = page.nextSince
  }
  t.same(devices, [TOTAL - 2, TOTAL - 1, TOTAL])
  t.same(deviceCalls, [[3, false]], 'a rare type at the end of a large record: one call')

  // Storing everything again touches nothing.
  const again = await store.upsertPage(CONN, Array.from({ length: 500 }, (_, j) => recordAt(j)))
  t.same(again, { added: 0, updated: 0, unchanged: 500 })
  t.equal(await store.latestSeq(CONN), TOTAL)
})
