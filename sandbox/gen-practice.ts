import { between, hash32, pick } from './hash.js'
import { codeable, dateOnly, narrative, SYSTEMS, type GenContext, type Generator } from './gen-context.js'
import { DRUGS } from './gen-clinical.js'

/** Patients, the practice's people and places, and medications. */

const GIVEN = [
  ['Amelia', 'female'], ['Jonas', 'male'], ['Aoife', 'female'], ['Samuel', 'male'],
  ['Priya', 'female'], ['Mateo', 'male'], ['Lena', 'female'], ['Kwame', 'male'],
  ['Yuki', 'female'], ['Arjun', 'male'], ['Fatima', 'female'], ['Liam', 'male']
] as const
const FAMILY = ['Hart', 'Reyes', "O'Brien", 'Natarajan', 'Okafor', 'Novak', 'Lindqvist', 'Castillo', 'Nakamura', 'Haddad', 'Moreau']
const STREETS = ['East Branch Way', 'Maple Avenue', 'Harbor Road', 'Cedar Lane', 'Orchard Street']
const CITIES = [['Beaverton', 'OR', '97006'], ['Westborough', 'MA', '01581'], ['Springfield', 'IL', '62701'], ['Austin', 'TX', '78701']] as const

export interface PatientIdentity {
  given: string
  family: string
  gender: 'female' | 'male'
  /** `Given Family`, as the consent page shows it. */
  name: string
}

/** A patient's name and gender: distinct for every index, varied by the seed. */
export function patientIdentity (seed: string, index: number): PatientIdentity {
  const [given, gender] = pick(GIVEN, hash32(seed, 'given') + index)
  const family = pick(FAMILY, hash32(seed, 'family') + index * 4)
  const round = Math.floor(index / GIVEN.length)
  const suffix = round === 0 ? '' : ` ${round + 1}`
  return { given, family: family + suffix, gender, name: `${given} ${family}${suffix}` }
}

/** The Patient, shaped like the recorded US Core patient (race, ethnicity, birth sex, two names). */
export function patient (c: GenContext, who: PatientIdentity): Record<string, unknown> {
  const [city, state, zip] = pick(CITIES, c.rand('city'))
  const street = `${between(c.rand('house'), 2, 990)} ${pick(STREETS, c.rand('street'))}`
  const birth = Date.UTC(1940, 0, 1) + (c.rand('birth') % (60 * 365)) * 86_400_000
  const mrn = String(between(c.rand('mrn'), 1000, 99999))
  const asku = { system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'ASKU', display: 'Declined to Specify' }
  return {
    text: narrative([['Name', who.name], ['Gender', who.gender], ['Date of birth', dateOnly(birth)]]),
    extension: [
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race', extension: [{ url: 'ombCategory', valueCoding: asku }, { url: 'text', valueString: 'Declined to Specify' }] },
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity', extension: [{ url: 'ombCategory', valueCoding: asku }, { url: 'text', valueString: 'Declined to Specify' }] },
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: who.gender === 'female' ? 'F' : 'M' }
    ],
    identifier: [
      { use: 'usual', system: 'urn:oid:2.16.840.1.113883.4.391.999999', value: c.id },
      { use: 'secondary', system: 'urn:oid:2.16.840.1.113883.4.391.999999', value: mrn }
    ],
    active: true,
    name: [
      { use: 'official', text: who.name, family: who.family, given: [who.given] },
      { use: 'old', text: `${who.given[0] ?? ''}${who.family[0] ?? ''}`, family: who.family }
    ],
    telecom: [
      { system: 'phone', value: `555-555-${String(between(c.rand('phone'), 1000, 9999))}`, use: 'home' },
      { system: 'email', value: `${who.given.toLowerCase()}.${c.patientIndex}@example.org` }
    ],
    gender: who.gender,
    birthDate: dateOnly(birth),
    address: [{ use: 'home', type: 'both', text: `${street}, ${city}, ${state}, ${zip}, US`, line: [street], city, state, postalCode: zip, country: 'US' }],
    maritalStatus: codeable('http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', 'M', 'Married'),
    communication: [{ language: codeable('urn:ietf:bcp:47', 'en', 'English') }],
    generalPractitioner: [c.practitioner]
  }
}

const DOCTORS = [['Willis', 'Sam'], ['Ibarra', 'Nora'], ['Chen', 'Robert']] as const

export const practitioner: Generator = (c) => {
  const [family, given] = pick(DOCTORS, c.index)
  return {
    text: narrative([['Name', `${given} ${family}`]]),
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.4.391', value: c.id }, { system: 'http://hl7.org/fhir/sid/us-npi', value: String(1000000000 + (c.rand('npi') % 899999999)) }],
    name: [{ text: `${family},${given}`, family, given: [given] }]
  }
}

/** The practice itself; its name comes from the options. */
export function organization (c: GenContext, name: string): Record<string, unknown> {
  return {
    text: narrative([['Name', name]]),
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.4.391', value: c.id }],
    active: true,
    name,
    telecom: [{ system: 'phone', value: '555-555-0100', use: 'work' }],
    address: [{ line: ['112 Turnpike Road'], city: 'Westborough', state: 'MA', postalCode: '01581', country: 'US' }]
  }
}

export const location: Generator = (c) => ({
  text: narrative([['Location', c.index === 0 ? 'Main Street Clinic' : 'Harbor Road Clinic']]),
  status: 'active',
  name: c.index === 0 ? 'Main Street Clinic' : 'Harbor Road Clinic',
  managingOrganization: c.organization
})

/** Medication i is the drug of MedicationRequest i (same identity hash). */
export const medication: Generator = (c) => {
  const [rxnorm, text] = pick(DRUGS, c.rand('drug'))
  return {
    text: narrative([['Medication', text]]),
    code: codeable(SYSTEMS.rxnorm, rxnorm, text)
  }
}
