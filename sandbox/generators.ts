import { usCore, type Generator } from './gen-context.js'
import { allergyIntolerance, condition, device, encounter, immunization, medicationRequest, procedure } from './gen-clinical.js'
import { carePlan, careTeam, diagnosticReport, documentReference, goal } from './gen-care.js'
import { observation } from './gen-observation.js'
import { location, medication, practitioner } from './gen-practice.js'

/** The generator of every patient-owned or practice type (Patient, Organization and Binary are special). */
export const GENERATORS: Readonly<Record<string, Generator>> = {
  AllergyIntolerance: allergyIntolerance,
  CarePlan: carePlan,
  CareTeam: careTeam,
  Condition: condition,
  Device: device,
  DiagnosticReport: diagnosticReport,
  DocumentReference: documentReference,
  Encounter: encounter,
  Goal: goal,
  Immunization: immunization,
  MedicationRequest: medicationRequest,
  Observation: observation,
  Procedure: procedure,
  Medication: medication,
  Practitioner: practitioner,
  Location: location
}

/** The US Core profile each type claims in `meta.profile`, as eCW's resources do. */
export const PROFILES: Readonly<Record<string, string>> = {
  AllergyIntolerance: usCore('us-core-allergyintolerance'),
  CarePlan: usCore('us-core-careplan'),
  CareTeam: usCore('us-core-careteam'),
  Condition: usCore('us-core-condition'),
  Device: usCore('us-core-implantable-device'),
  DiagnosticReport: usCore('us-core-diagnosticreport-lab'),
  DocumentReference: usCore('us-core-documentreference'),
  Encounter: usCore('us-core-encounter'),
  Goal: usCore('us-core-goal'),
  Immunization: usCore('us-core-immunization'),
  MedicationRequest: usCore('us-core-medicationrequest'),
  Procedure: usCore('us-core-procedure'),
  Patient: usCore('us-core-patient'),
  Medication: usCore('us-core-medication'),
  Practitioner: usCore('us-core-practitioner'),
  Organization: usCore('us-core-organization'),
  Location: usCore('us-core-location')
}

/** Types whose content is keyed by another type's identity (Medication i belongs to MedicationRequest i). */
export const TWINS: Readonly<Record<string, string>> = {
  Medication: 'MedicationRequest',
  Binary: 'DocumentReference'
}
