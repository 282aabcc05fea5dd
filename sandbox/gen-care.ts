import { pick } from './hash.js'
import { codeable, dateOnly, dateTime, instant, narrative, SYSTEMS, type Generator } from './gen-context.js'

const PLANS = [
  'Continue current medications. Recheck blood pressure in 3 months.',
  'Diet and exercise counselling given. Repeat HbA1c in 3 months.',
  'Refer to physical therapy twice a week for 6 weeks.',
  'Start inhaled steroid. Return if symptoms worsen.'
] as const

export const carePlan: Generator = (c) => {
  const plan = pick(PLANS, c.rand('plan'))
  return {
    // US Core requires the narrative of an assess-plan CarePlan: it is the plan.
    text: { status: 'additional', div: `<div xmlns="http://www.w3.org/1999/xhtml">${plan}</div>` },
    status: c.rand('status') % 4 === 0 ? 'completed' : 'active',
    intent: 'plan',
    category: [codeable('http://hl7.org/fhir/us/core/CodeSystem/careplan-category', 'assess-plan', 'Assessment and Plan of Treatment')],
    subject: c.patient,
    ...(c.encounter === undefined ? {} : { encounter: c.encounter }),
    period: { start: dateTime(c.at) },
    author: c.practitioner
  }
}

const TEAM_ROLES = [
  ['446050000', 'Primary care physician'],
  ['224535009', 'Registered nurse'],
  ['309343006', 'Physician'],
  ['159033005', 'Dietitian']
] as const

export const careTeam: Generator = (c) => {
  const [code, role] = pick(TEAM_ROLES, c.rand('role'))
  return {
    text: narrative([['Care team', `${c.patientName} care team`], ['Status', c.part]]),
    status: c.part,
    name: `${c.patientName} care team ${c.index + 1}`,
    subject: c.patient,
    period: { start: dateTime(c.at) },
    participant: [
      { role: [codeable(SYSTEMS.snomed, code, role)], member: c.practitioner },
      { role: [codeable(SYSTEMS.snomed, '116154003', 'Patient')], member: c.patient }
    ],
    managingOrganization: [c.organization]
  }
}

const GOALS = [
  'Lose 10 pounds in 6 months',
  'Keep HbA1c below 7 %',
  'Walk 30 minutes five days a week',
  'Quit smoking',
  'Blood pressure below 130/80'
] as const

export const goal: Generator = (c) => {
  const description = pick(GOALS, c.rand('goal'))
  return {
    text: narrative([['Goal', description]]),
    lifecycleStatus: c.rand('status') % 3 === 0 ? 'completed' : 'active',
    description: { text: description },
    subject: c.patient,
    startDate: dateOnly(c.at),
    target: [{ dueDate: dateOnly(c.at + 180 * 86_400_000) }],
    expressedBy: c.practitioner
  }
}

const PANELS = [
  ['58410-2', 'CBC panel - Blood by Automated count'],
  ['24323-8', 'Comprehensive metabolic 2000 panel - Serum or Plasma'],
  ['57698-3', 'Lipid panel with direct LDL - Serum or Plasma'],
  ['4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood']
] as const

/** Lab reports point at three of the patient's laboratory Observations. */
export const diagnosticReport: Generator = (c) => {
  const [code, text] = pick(PANELS, c.rand('panel'))
  const labs = c.count('Observation', 'laboratory')
  const result = []
  for (let k = 0; k < Math.min(3, labs); k++) result.push(c.ref('Observation', 'laboratory', (c.index * 3 + k) % labs))
  return {
    text: narrative([['Report', text], ['Status', 'final']]),
    status: 'final',
    category: [codeable('http://terminology.hl7.org/CodeSystem/v2-0074', 'LAB', 'Laboratory')],
    code: codeable(SYSTEMS.loinc, code, text),
    subject: c.patient,
    ...(c.encounter === undefined ? {} : { encounter: c.encounter }),
    effectiveDateTime: dateTime(c.at),
    issued: instant(c.at + 86_400_000),
    performer: [c.organization],
    result,
    conclusion: c.rand('conclusion') % 4 === 0 ? 'Abnormal' : 'Within normal limits'
  }
}

const NOTE_TYPES = [
  ['11506-3', 'Progress note'],
  ['34133-9', 'Summary of episode note'],
  ['18842-5', 'Discharge summary'],
  ['11488-4', 'Consult note']
] as const

/** The attachment URL is absolute on the FHIR base, as eCW's are. */
export const documentReference: Generator = (c) => {
  const [code, text] = pick(NOTE_TYPES, c.rand('note'))
  const binary = c.attachment(c.index)
  return {
    text: narrative([['Document', text], ['Date', dateTime(c.at)]]),
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:oid:2.16.840.1.113883.4.391.${c.index}` }],
    status: 'current',
    type: codeable(SYSTEMS.loinc, code, text),
    category: [codeable('http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', 'clinical-note', 'Clinical Note')],
    subject: c.patient,
    date: instant(c.at),
    author: [c.practitioner],
    custodian: c.organization,
    content: [{
      attachment: {
        contentType: binary.contentType,
        url: `${c.fhirBase}/Binary/${binary.id}`,
        size: binary.size,
        title: `${text} ${dateOnly(c.at)}`,
        creation: dateTime(c.at)
      },
      format: { system: 'http://ihe.net/fhir/ValueSet/IHE.FormatCode.codesystem', code: 'urn:ihe:iti:xds:2017:mimeTypeSufficient', display: 'mimeType Sufficient' }
    }],
    ...(c.encounter === undefined ? {} : { context: { encounter: [c.encounter], period: { start: dateTime(c.at) } } })
  }
}
