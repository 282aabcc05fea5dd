/** What a resource generator gets: everything is derived from (seed, patient, type, index). */

export interface Reference {
  reference: string
  type: string
}

export type Resource = Record<string, unknown> & { resourceType: string, id: string }

export interface GenContext {
  type: string
  /** The partition (Observation category, CareTeam status, ...) or `''`. */
  part: string
  index: number
  id: string
  patientIndex: number
  /** A 32-bit value for this resource and a salt. */
  rand: (salt: string) => number
  /** The resource's clinical time (ms), fixed by its identity. */
  at: number
  patient: Reference
  patientName: string
  practitioner: Reference
  organization: Reference
  location: Reference
  /** One of the patient's encounters, when there are any. */
  encounter: Reference | undefined
  /** A reference to another resource of the same patient. */
  ref: (type: string, part: string, index: number) => Reference
  /** How many resources the patient has of a type and partition. */
  count: (type: string, part: string) => number
  fhirBase: string
  /** The Binary behind DocumentReference i: content type and size. */
  attachment: (index: number) => { id: string, contentType: string, size: number }
}

export type Generator = (c: GenContext) => Record<string, unknown>

const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/'
export function usCore (name: string): string {
  return US_CORE + name
}

/** eCW writes times in the practice's zone; the sandbox uses a fixed -05:00. */
const OFFSET_MS = 5 * 3600 * 1000
export function dateTime (ms: number): string {
  return new Date(ms - OFFSET_MS).toISOString().slice(0, 19) + '-05:00'
}
export function instant (ms: number): string {
  return new Date(ms - OFFSET_MS).toISOString().slice(0, 23) + '-05:00'
}
export function dateOnly (ms: number): string {
  return new Date(ms - OFFSET_MS).toISOString().slice(0, 10)
}

/** Generated clinical times fall in this window (fixed, so output never depends on the clock). */
export const HISTORY_START_MS = Date.UTC(2015, 0, 1)
export const HISTORY_SPAN_MS = Date.UTC(2024, 9, 31) - HISTORY_START_MS

export function codeable (system: string, code: string, display: string, text = display): Record<string, unknown> {
  return { coding: [{ system, code, display }], text }
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch)
}

/** A generated narrative table, as eCW sends one with every resource. */
export function narrative (rows: Array<[string, string]>): Record<string, unknown> {
  const cells = rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td><span>${escapeHtml(v)}</span></td></tr>`).join('')
  return { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><table border="1"><tbody>${cells}</tbody></table></div>` }
}

export const SYSTEMS = {
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  icd10: 'http://hl7.org/fhir/sid/icd-10-cm',
  cvx: 'http://hl7.org/fhir/sid/cvx',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  cpt: 'http://www.ama-assn.org/go/cpt',
  ucum: 'http://unitsofmeasure.org',
  obsCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  usCoreCategory: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-category',
  dataAbsent: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason'
} as const
