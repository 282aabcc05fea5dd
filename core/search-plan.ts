import { SEARCHED_TYPES } from './resource-types.js'

/** A type the sync pages by patient (or Patient by `_id`). */
export type SearchedType = typeof SEARCHED_TYPES[number]

/** One search of a sync: `id` names it in status and errors (`Observation:laboratory`, `Condition`). */
export interface PlannedSearch {
  id: string
  type: SearchedType
  params: Record<string, string>
}

/**
 * Healow answers `Observation?patient=` alone with 400 ("Does not know how to
 * handle get operation with parameter [patient,_count]"): a category is
 * required. These are the US Core Observation categories.
 */
export const OBSERVATION_CATEGORIES: readonly string[] = Object.freeze([
  'laboratory', 'vital-signs', 'social-history', 'survey', 'exam',
  'imaging', 'procedure', 'therapy', 'activity', 'sdoh'
])

/** CareTeam needs `status` at Healow; every CareTeam.status code (FHIR R4 care-team-status). */
export const CARE_TEAM_STATUSES: readonly string[] = Object.freeze([
  'active', 'inactive', 'proposed', 'suspended', 'entered-in-error'
])

/** CarePlan needs `category` at Healow; US Core's CarePlan category is `assess-plan`. */
export const CARE_PLAN_CATEGORIES: readonly string[] = Object.freeze(['assess-plan'])

/** Healow accepts `_count=50` (recording). */
export const DEFAULT_SEARCH_COUNT = 50
/** A practice may lower larger counts; above this a page gets too big to hold comfortably. */
export const MAX_SEARCH_COUNT = 1000

/** The parameter (and its values) a type must be searched with at Healow, one search per value. */
const PARTITIONS: Readonly<Partial<Record<SearchedType, { param: string, values: readonly string[] }>>> = {
  Observation: { param: 'category', values: OBSERVATION_CATEGORIES },
  CarePlan: { param: 'category', values: CARE_PLAN_CATEGORIES },
  CareTeam: { param: 'status', values: CARE_TEAM_STATUSES }
}

/**
 * The Healow-safe searches for one patient: `Patient?_id=`, then every other
 * searched type by `patient` with `_count`, split by the category or status
 * Healow insists on. Never Provenance (searchable by `_id` only) and never
 * `_lastUpdated` (not declared by Healow's CapabilityStatement), so a sync
 * reads the whole record every time and the store keeps what changed.
 */
export function buildSearchPlan (patientId: string, options: { count?: number } = {}): PlannedSearch[] {
  if (typeof patientId !== 'string' || patientId === '' || patientId.length > 256) {
    throw new RangeError('patientId must be a non-empty string')
  }
  const count = options.count ?? DEFAULT_SEARCH_COUNT
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SEARCH_COUNT) {
    throw new RangeError(`count must be a whole number from 1 to ${MAX_SEARCH_COUNT}`)
  }
  const plan: PlannedSearch[] = []
  for (const type of SEARCHED_TYPES) {
    if (type === 'Patient') {
      plan.push({ id: 'Patient', type, params: { _id: patientId } })
      continue
    }
    const partition = PARTITIONS[type]
    if (partition === undefined) {
      plan.push({ id: type, type, params: { patient: patientId, _count: String(count) } })
      continue
    }
    for (const value of partition.values) {
      plan.push({ id: `${type}:${value}`, type, params: { patient: patientId, [partition.param]: value, _count: String(count) } })
    }
  }
  return plan
}
