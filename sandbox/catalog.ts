import { hash32 } from './hash.js'

/** The types searched by `patient` (with the parameters Healow insists on). */
export const SEARCH_TYPES = [
  'AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Device',
  'DiagnosticReport', 'DocumentReference', 'Encounter', 'Goal',
  'Immunization', 'MedicationRequest', 'Observation', 'Procedure'
] as const
export type SearchType = typeof SEARCH_TYPES[number]

/** Types that are only read by id (Patient also by `_id`). */
export const READ_TYPES = ['Patient', 'Medication', 'Practitioner', 'Organization', 'Location', 'Binary'] as const
export type ReadType = typeof READ_TYPES[number]

/** Healow's Observation categories; searching Observation needs one. */
export const OBSERVATION_CATEGORIES = [
  'laboratory', 'vital-signs', 'social-history', 'survey', 'exam',
  'imaging', 'procedure', 'therapy', 'activity', 'sdoh'
] as const
/** CareTeam searches need a status. */
export const CARE_TEAM_STATUSES = ['active', 'inactive', 'proposed', 'suspended', 'entered-in-error'] as const
/** CarePlan searches need a category; US Core's is `assess-plan`. */
export const CARE_PLAN_CATEGORY = 'assess-plan'

/**
 * The parameter a type must be searched with, and its values. A record is
 * generated per value ("partition"), so a search by one value pages only it.
 */
export const PARTITIONED: Readonly<Record<string, { param: string, values: readonly string[] }>> = {
  Observation: { param: 'category', values: OBSERVATION_CATEGORIES },
  CareTeam: { param: 'status', values: CARE_TEAM_STATUSES },
  CarePlan: { param: 'category', values: [CARE_PLAN_CATEGORY] }
}

/** The partitions of a type: its required parameter's values, or one unnamed. */
export function partitionsOf (type: string): readonly string[] {
  return PARTITIONED[type]?.values ?? ['']
}

/** Short codes that make ids decodable: `{prefix}.{kind}.{owner}.{index}`. */
export const KIND_CODES: Readonly<Record<string, string>> = {
  AllergyIntolerance: 'al',
  CarePlan: 'cp',
  CareTeam: 'ct',
  Condition: 'cn',
  Device: 'dv',
  DiagnosticReport: 'dr',
  DocumentReference: 'dc',
  Encounter: 'en',
  Goal: 'gl',
  Immunization: 'im',
  MedicationRequest: 'mr',
  Observation: 'ob',
  Procedure: 'pc',
  Patient: 'pa',
  Medication: 'md',
  Practitioner: 'pr',
  Organization: 'or',
  Location: 'lo',
  Binary: 'bn'
}

export const PARTITION_CODES: Readonly<Record<string, string>> = {
  laboratory: 'L',
  'vital-signs': 'V',
  'social-history': 'H',
  survey: 'S',
  exam: 'E',
  imaging: 'I',
  procedure: 'P',
  therapy: 'T',
  activity: 'A',
  sdoh: 'D',
  active: 'a',
  inactive: 'i',
  proposed: 'p',
  suspended: 's',
  'entered-in-error': 'e',
  'assess-plan': 'c'
}

/** Practice-level resources, readable with any valid token. */
export const PRACTICE_COUNTS = { Practitioner: 3, Organization: 1, Location: 2 } as const

/** Record sizes: presets or an approximate number of resources. */
export type SandboxSize = 'small' | 'medium' | 'large' | number
/** Resource counts per type, then per partition (`''` when unpartitioned). */
export type Layout = Record<string, Record<string, number>>

/**
 * The "small" record, shaped like the recorded sandbox patient
 * (AllergyIntolerance 10, Condition 27, Immunization 19, Device 3, ...).
 */
const SMALL: Readonly<Record<string, number>> = {
  AllergyIntolerance: 10,
  'CarePlan:assess-plan': 3,
  'CareTeam:active': 2,
  'CareTeam:inactive': 1,
  'CareTeam:proposed': 1,
  Condition: 27,
  Device: 3,
  DiagnosticReport: 4,
  DocumentReference: 5,
  Encounter: 8,
  Goal: 4,
  Immunization: 19,
  MedicationRequest: 6,
  Procedure: 5,
  'Observation:laboratory': 30,
  'Observation:vital-signs': 21,
  'Observation:social-history': 3,
  'Observation:survey': 2,
  'Observation:exam': 2,
  'Observation:imaging': 1,
  'Observation:procedure': 1,
  'Observation:activity': 1,
  'Observation:sdoh': 1
}
const SMALL_TOTAL = Object.values(SMALL).reduce((a, b) => a + b, 0)
const PRESET_TOTALS = { medium: 2_000, large: 200_000 } as const

/**
 * How many resources of each type and partition a patient has. The first
 * patient gets the size exactly; the others vary by ±50 % (from the seed).
 */
export function layoutRecord (size: SandboxSize, seed: string, patientIndex: number): Layout {
  const base = size === 'small' ? { ...SMALL } : scaleSmall(typeof size === 'number' ? size : PRESET_TOTALS[size])
  const layout: Layout = {}
  for (const type of SEARCH_TYPES) {
    layout[type] = {}
    for (const part of partitionsOf(type)) {
      const n = base[part === '' ? type : `${type}:${part}`] ?? 0
      const factor = patientIndex === 0 ? 1 : 0.5 + (hash32(seed, 'size', patientIndex, type, part) % 1001) / 1000
      layout[type][part] = Math.round(n * factor)
    }
  }
  return layout
}

/** The small record's proportions scaled to `total` resources exactly. */
function scaleSmall (total: number): Record<string, number> {
  const out: Record<string, number> = {}
  let sum = 0
  for (const [key, n] of Object.entries(SMALL)) {
    out[key] = Math.floor(total * n / SMALL_TOTAL)
    sum += out[key]
  }
  out['Observation:laboratory'] = (out['Observation:laboratory'] ?? 0) + total - sum
  return out
}
