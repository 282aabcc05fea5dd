import { KIND_CODES, PARTITION_CODES, PRACTICE_COUNTS, SEARCH_TYPES, layoutRecord, partitionsOf, type Layout, type SandboxSize } from './catalog.js'
import { HISTORY_SPAN_MS, HISTORY_START_MS, instant, type GenContext, type Reference, type Resource } from './gen-context.js'
import { describeAttachment, type AttachmentContent } from './gen-binary.js'
import { organization, patient, patientIdentity, type PatientIdentity } from './gen-practice.js'
import { GENERATORS, PROFILES, TWINS } from './generators.js'
import { hash32, opaqueText } from './hash.js'

export interface StoreOptions {
  seed: string
  patients: number
  size: SandboxSize
  practiceCode: string
  practiceName: string
  largeAttachments: { every: number, bytes: number } | undefined
  fhirBase: () => string
  now: () => number
}

/** Where an id points: `{prefix}.{kind}{partition}.{owner}.{index}`, owner `x` for the practice. */
export interface Address {
  type: string
  part: string
  owner: number | undefined
  index: number
}

/** What a client paging every search should receive for a patient. */
export interface ExpectedCounts {
  total: number
  byType: Record<string, number>
  observationByCategory: Record<string, number>
  careTeamByStatus: Record<string, number>
}

/** A change made by `touch`: some records get a new version, some are added. */
export interface TouchChange {
  updated?: number
  added?: number
  /** The Observation or CarePlan category (default laboratory / assess-plan). */
  category?: string
  /** The CareTeam status (default active). */
  status?: string
}

const TYPE_BY_KIND = new Map(Object.entries(KIND_CODES).map(([type, kind]) => [kind, type]))
const PART_BY_CODE = new Map(Object.entries(PARTITION_CODES).map(([part, code]) => [code, part]))
const MAX_LAST_UPDATED_LAG_MS = 30 * 86_400_000

/** Records generated lazily: resource i of a type is rebuilt from (seed, patient, type, i) on every read. */
export function createRecordStore (o: StoreOptions): RecordStore {
  return new RecordStore(o)
}

export class RecordStore {
  readonly prefix: string
  readonly people: PatientIdentity[]
  readonly patients: Array<{ id: string, name: string }>
  private readonly layouts: Layout[] = []
  private readonly added = new Map<string, number>()
  private readonly versions = new Map<string, { version: number, at: number }>()

  constructor (private readonly o: StoreOptions) {
    this.prefix = opaqueText(20, o.seed, o.practiceCode, 'prefix')
    this.people = Array.from({ length: o.patients }, (_, i) => patientIdentity(o.seed, i))
    this.patients = this.people.map((who, i) => ({ id: this.idOf('Patient', '', i, 0), name: who.name }))
  }

  idOf (type: string, part: string, owner: number | undefined, index: number): string {
    const kind = (KIND_CODES[type] ?? '') + (part === '' ? '' : PARTITION_CODES[part] ?? '')
    return `${this.prefix}.${kind}.${owner === undefined ? 'x' : owner.toString(36)}.${index.toString(36)}`
  }

  /** Decodes an id minted here; anything else is `undefined`. */
  parseId (id: string): Address | undefined {
    const [prefix, kind, owner, index, extra] = id.split('.')
    if (prefix !== this.prefix || kind === undefined || owner === undefined || index === undefined || extra !== undefined) return undefined
    const type = TYPE_BY_KIND.get(kind.slice(0, 2))
    const part = kind.length > 2 ? PART_BY_CODE.get(kind.slice(2)) : ''
    if (type === undefined || part === undefined || !partitionsOf(type).includes(part)) return undefined
    const n = parseBase36(index)
    const p = owner === 'x' ? undefined : parseBase36(owner)
    if (n === undefined || (owner !== 'x' && p === undefined)) return undefined
    return { type, part, owner: p, index: n }
  }

  patientIndex (id: string): number | undefined {
    const a = this.parseId(id)
    if (a?.type !== 'Patient' || a.owner === undefined || a.owner >= this.o.patients || a.index !== 0) return undefined
    return a.owner
  }

  count (p: number, type: string, part: string): number {
    this.layouts[p] ??= layoutRecord(this.o.size, this.o.seed, p)
    return (this.layouts[p][type]?.[part] ?? 0) + (this.added.get(`${p}|${type}|${part}`) ?? 0)
  }

  /** Builds resource `index` of a patient's type and partition (the caller checks the bounds). */
  build (type: string, part: string, owner: number | undefined, index: number): Resource {
    const c = this.context(type, part, owner, index)
    const body = type === 'Patient'
      ? patient(c, this.people[owner ?? 0] as PatientIdentity)
      : type === 'Organization' ? organization(c, this.o.practiceName) : (GENERATORS[type] as (c: GenContext) => Record<string, unknown>)(c)
    const { profile, text, ...rest } = body
    const touched = this.versions.get(`${owner ?? 'x'}|${type}|${part}|${index}`)
    const lastUpdated = touched?.at ?? Math.min(c.at + (c.rand('updated') % MAX_LAST_UPDATED_LAG_MS), HISTORY_START_MS + HISTORY_SPAN_MS)
    const meta = { versionId: String(touched?.version ?? 1), lastUpdated: instant(lastUpdated), profile: [typeof profile === 'string' ? profile : PROFILES[type]] }
    return { resourceType: type, id: c.id, meta, text, ...rest }
  }

  /** A resource by type and id, with the patient that owns it (`undefined` for the practice's). */
  read (type: string, id: string): { owner: number | undefined, resource: Resource } | undefined {
    const a = this.parseId(id)
    if (a === undefined || a.type !== type || type === 'Binary' || !this.exists(a)) return undefined
    return { owner: a.owner, resource: this.build(a.type, a.part, a.owner, a.index) }
  }

  /** The bytes of a Binary id, with its owner. */
  readBinary (id: string): { owner: number, content: AttachmentContent } | undefined {
    const a = this.parseId(id)
    if (a?.type !== 'Binary' || a.owner === undefined || !this.exists(a)) return undefined
    return { owner: a.owner, content: this.attachment(a.owner, a.index) }
  }

  attachment (p: number, index: number): AttachmentContent {
    const large = this.o.largeAttachments
    const bytes = large !== undefined && (index + 1) % large.every === 0 ? large.bytes : undefined
    return describeAttachment(this.o.seed, p, index, `Clinical document ${index + 1}`, bytes)
  }

  private exists (a: Address): boolean {
    if (a.owner === undefined) return a.index < (PRACTICE_COUNTS[a.type as keyof typeof PRACTICE_COUNTS] ?? 0)
    if (a.owner >= this.o.patients) return false
    if (a.type === 'Patient') return a.index === 0
    return a.index < this.count(a.owner, TWINS[a.type] ?? a.type, a.part)
  }

  private context (type: string, part: string, owner: number | undefined, index: number): GenContext {
    const seed = this.o.seed
    const identity = TWINS[type] ?? type
    const rand = (salt: string): number => hash32(seed, owner ?? 'x', identity, part, index, salt)
    const p = owner ?? 0
    const ref = (t: string, pt: string, i: number): Reference => ({ reference: `${t}/${this.idOf(t, pt, owner, i)}`, type: t })
    const practice = (t: string, i: number): Reference => ({ reference: `${t}/${this.idOf(t, '', undefined, i)}`, type: t })
    const encounters = owner === undefined || type === 'Encounter' ? 0 : this.count(p, 'Encounter', '')
    return {
      type,
      part,
      index,
      id: this.idOf(type, part, type === 'Practitioner' || type === 'Organization' || type === 'Location' ? undefined : owner, index),
      patientIndex: p,
      rand,
      at: HISTORY_START_MS + (rand('at') % Math.floor(HISTORY_SPAN_MS / 60_000)) * 60_000,
      patient: { reference: `Patient/${this.idOf('Patient', '', p, 0)}`, type: 'Patient' },
      patientName: this.people[p]?.name ?? '',
      practitioner: practice('Practitioner', rand('practitioner') % PRACTICE_COUNTS.Practitioner),
      organization: practice('Organization', 0),
      location: practice('Location', rand('location') % PRACTICE_COUNTS.Location),
      encounter: encounters > 0 ? ref('Encounter', '', rand('encounter') % encounters) : undefined,
      ref,
      count: (t, pt) => this.count(p, t, pt),
      fhirBase: this.o.fhirBase(),
      attachment: (i) => {
        const content = this.attachment(p, i)
        return { id: this.idOf('Binary', '', owner, i), contentType: content.contentType, size: content.size }
      }
    }
  }

  expectedCounts (p: number): ExpectedCounts {
    const byType: Record<string, number> = {}
    const observationByCategory: Record<string, number> = {}
    const careTeamByStatus: Record<string, number> = {}
    let total = 0
    for (const type of SEARCH_TYPES) {
      byType[type] = 0
      for (const part of partitionsOf(type)) {
        const n = this.count(p, type, part)
        byType[type] += n
        total += n
        if (type === 'Observation') observationByCategory[part] = n
        if (type === 'CareTeam') careTeamByStatus[part] = n
      }
    }
    return { total, byType, observationByCategory, careTeamByStatus }
  }

  /** Gives the first `updated` records a new version and appends `added` new ones, all stamped now. */
  touch (p: number, type: string, change: TouchChange): { updated: string[], added: string[] } {
    if (!(SEARCH_TYPES as readonly string[]).includes(type)) throw new Error(`touch: ${type} is not a searchable type`)
    const part = type === 'Observation' ? change.category ?? 'laboratory' : type === 'CareTeam' ? change.status ?? 'active' : partitionsOf(type)[0] ?? ''
    if (!partitionsOf(type).includes(part)) throw new Error(`touch: ${type} has no partition ${part}`)
    const at = this.o.now()
    const result = { updated: [] as string[], added: [] as string[] }
    const existing = this.count(p, type, part)
    for (let i = 0; i < Math.min(change.updated ?? 0, existing); i++) {
      const key = `${p}|${type}|${part}|${i}`
      this.versions.set(key, { version: (this.versions.get(key)?.version ?? 1) + 1, at })
      result.updated.push(this.idOf(type, part, p, i))
    }
    const add = change.added ?? 0
    this.added.set(`${p}|${type}|${part}`, (this.added.get(`${p}|${type}|${part}`) ?? 0) + add)
    for (let i = existing; i < existing + add; i++) {
      this.versions.set(`${p}|${type}|${part}|${i}`, { version: 1, at })
      result.added.push(this.idOf(type, part, p, i))
    }
    return result
  }
}

function parseBase36 (text: string): number | undefined {
  if (!/^[0-9a-z]{1,10}$/.test(text)) return undefined
  const n = parseInt(text, 36)
  return n.toString(36) === text && Number.isSafeInteger(n) ? n : undefined
}
