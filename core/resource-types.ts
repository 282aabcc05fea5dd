/**
 * The FHIR R4 types a connection reads. Searched types are paged by patient
 * (with the category or status Healow requires); referenced types are only
 * read by id. Every one needs a `patient/<Type>.read` scope.
 */
export const SEARCHED_TYPES = [
  'Patient',
  'AllergyIntolerance',
  'CarePlan',
  'CareTeam',
  'Condition',
  'Device',
  'DiagnosticReport',
  'DocumentReference',
  'Encounter',
  'Goal',
  'Immunization',
  'MedicationRequest',
  'Observation',
  'Procedure'
] as const

export const REFERENCED_TYPES = ['Binary', 'Location', 'Medication', 'Organization', 'Practitioner'] as const

export const READ_TYPES = [...SEARCHED_TYPES, ...REFERENCED_TYPES] as const
export type ResourceType = typeof READ_TYPES[number]

const READ_TYPE_SET = new Set<string>(READ_TYPES)
export function isReadType (value: string): value is ResourceType {
  return READ_TYPE_SET.has(value)
}
