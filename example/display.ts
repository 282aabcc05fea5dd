/**
 * One line of text and a date for any FHIR resource, from the fields most
 * resource types share. Good enough for a table; not a clinical viewer.
 */

type Json = Record<string, unknown>

/** Where the "what is it" text lives, in order of preference. */
const CONCEPT_FIELDS = ['code', 'vaccineCode', 'medicationCodeableConcept', 'type', 'category'] as const

/** Where the "when" lives, in order of preference (FHIR R4 names; `meta.lastUpdated` last). */
const DATE_PATHS = [
  ['effectiveDateTime'], ['onsetDateTime'], ['recordedDate'], ['occurrenceDateTime'], ['authoredOn'],
  ['period', 'start'], ['effectivePeriod', 'start'], ['performedDateTime'], ['performedPeriod', 'start'],
  ['issued'], ['date'], ['meta', 'lastUpdated']
] as const

export interface ResourceLine {
  /** ISO date or date-time as found, or undefined. */
  date: string | undefined
  type: string
  text: string
}

function isObject (value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function nonEmpty (value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined
}

/** The text of a CodeableConcept (or a plain string, or the first of an array of either). */
export function conceptText (value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const text = conceptText(item)
      if (text !== undefined) return text
    }
    return undefined
  }
  if (typeof value === 'string') return nonEmpty(value)
  if (!isObject(value)) return undefined
  const text = nonEmpty(value.text)
  if (text !== undefined) return text
  const codings = Array.isArray(value.coding) ? value.coding : []
  for (const coding of codings) {
    if (!isObject(coding)) continue
    const shown = nonEmpty(coding.display) ?? nonEmpty(coding.code)
    if (shown !== undefined) return shown
  }
  return undefined
}

function humanName (value: unknown): string | undefined {
  const name = Array.isArray(value) ? value[0] : undefined
  if (!isObject(name)) return nonEmpty(value)
  const given = Array.isArray(name.given) ? name.given.filter((g) => typeof g === 'string') : []
  return nonEmpty(name.text) ?? nonEmpty([...given, name.family].filter((p) => typeof p === 'string').join(' '))
}

function textOf (resource: Json): string | undefined {
  for (const field of CONCEPT_FIELDS) {
    const text = conceptText(resource[field])
    if (text !== undefined) return text
  }
  const reference = resource.medicationReference
  if (isObject(reference) && nonEmpty(reference.display) !== undefined) return nonEmpty(reference.display)
  const description = resource.description
  return conceptText(description) ?? humanName(resource.name) ?? nonEmpty(resource.name)
}

/** The first date the resource carries, by the usual FHIR fields. */
export function resourceDate (resource: Json): string | undefined {
  for (const path of DATE_PATHS) {
    let value: unknown = resource
    for (const key of path) value = isObject(value) ? value[key] : undefined
    const text = nonEmpty(value)
    if (text !== undefined) return text
  }
  return undefined
}

/** Date, type and a short description of a resource. */
export function describeResource (resource: Json): ResourceLine {
  const type = nonEmpty(resource.resourceType) ?? 'Resource'
  const id = nonEmpty(resource.id)
  return { date: resourceDate(resource), type, text: textOf(resource) ?? (id !== undefined ? `${type}/${id}` : type) }
}
