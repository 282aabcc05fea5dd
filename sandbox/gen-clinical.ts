import { pick, between } from './hash.js'
import { codeable, dateOnly, dateTime, narrative, SYSTEMS, type Generator } from './gen-context.js'

/** Synthetic clinical content, coded the way the recorded eCW resources are. */

const ALLERGENS = [
  { text: 'Kiwi', category: 'food' },
  { code: '735249009', text: 'Avocado', category: 'food' },
  { code: '764146007', text: 'Penicillin', category: 'medication' },
  { code: '762952008', text: 'Peanut', category: 'food' },
  { code: '111088007', text: 'Latex', category: 'environment' },
  { code: '387406002', text: 'Sulfonamide', category: 'medication' },
  { code: '227037002', text: 'Shellfish', category: 'food' },
  { code: '256259004', text: 'Pollen', category: 'environment' },
  { code: '387458008', text: 'Aspirin', category: 'medication' }
] as const
const REACTIONS = ['hives', 'rash', 'itching', 'swelling', 'nausea', 'anaphylaxis'] as const

export const allergyIntolerance: Generator = (c) => {
  const a = pick(ALLERGENS, c.rand('allergen'))
  const active = c.rand('status') % 5 !== 0
  const status = active ? 'active' : 'inactive'
  return {
    text: narrative([['Status', status], ['AllergyIntolerance Name', a.text]]),
    clinicalStatus: codeable('http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', status, active ? 'Active' : 'Inactive'),
    verificationStatus: codeable('http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', 'confirmed', 'Confirmed'),
    type: 'allergy',
    category: [a.category],
    criticality: c.rand('crit') % 3 === 0 ? 'high' : 'low',
    code: 'code' in a ? codeable(SYSTEMS.snomed, a.code, a.text) : { text: a.text },
    patient: c.patient,
    onsetDateTime: dateTime(c.at),
    asserter: c.practitioner,
    reaction: [{ manifestation: [{ text: pick(REACTIONS, c.rand('reaction')) }] }]
  }
}

const CONDITIONS = [
  ['E11.9', '44054006', 'Type 2 diabetes mellitus'],
  ['I10', '38341003', 'Essential hypertension'],
  ['E78.5', '55822004', 'Hyperlipidemia'],
  ['J45.909', '195967001', 'Asthma'],
  ['M54.50', '279039007', 'Low back pain'],
  ['F41.1', '21897009', 'Generalized anxiety disorder'],
  ['K21.9', '235595009', 'Gastroesophageal reflux disease'],
  ['E66.9', '414916001', 'Obesity'],
  ['J30.9', '61582004', 'Allergic rhinitis'],
  ['G43.909', '37796009', 'Migraine'],
  ['E03.9', '40930008', 'Hypothyroidism'],
  ['A42.1', '43894001', 'Abdominal actinomycosis']
] as const

export const condition: Generator = (c) => {
  const [icd, sct, text] = pick(CONDITIONS, c.rand('code'))
  const problem = c.rand('category') % 3 === 0
  const active = c.rand('status') % 4 !== 0
  return {
    text: narrative([['Condition', text], ['Status', active ? 'active' : 'resolved']]),
    clinicalStatus: codeable('http://terminology.hl7.org/CodeSystem/condition-clinical', active ? 'active' : 'resolved', active ? 'Active' : 'Resolved'),
    verificationStatus: codeable('http://terminology.hl7.org/CodeSystem/condition-ver-status', 'confirmed', 'Confirmed', 'confirmed'),
    category: [problem
      ? codeable('http://terminology.hl7.org/CodeSystem/condition-category', 'problem-list-item', 'Problem List Item')
      : codeable('http://terminology.hl7.org/CodeSystem/condition-category', 'encounter-diagnosis', 'Encounter Diagnosis')],
    code: { coding: [{ system: SYSTEMS.icd10, code: icd, display: text }, { system: SYSTEMS.snomed, code: sct, display: text }], text },
    subject: c.patient,
    ...(c.encounter === undefined ? {} : { encounter: c.encounter }),
    recordedDate: dateTime(c.at),
    recorder: c.practitioner
  }
}

const VACCINES = [
  ['140', 'Influenza, seasonal, injectable, preservative free'],
  ['208', 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose'],
  ['115', 'Tdap'],
  ['83', 'Hep A, ped/adol, 2 dose'],
  ['08', 'Hep B, adolescent or pediatric'],
  ['03', 'MMR'],
  ['21', 'varicella'],
  ['33', 'pneumococcal polysaccharide PPV23'],
  ['187', 'zoster recombinant']
] as const

export const immunization: Generator = (c) => {
  const [cvx, text] = pick(VACCINES, c.rand('vaccine'))
  return {
    text: narrative([['Vaccine', text], ['Status', 'completed']]),
    status: 'completed',
    vaccineCode: codeable(SYSTEMS.cvx, cvx, text),
    patient: c.patient,
    ...(c.encounter === undefined ? {} : { encounter: c.encounter }),
    occurrenceDateTime: dateTime(c.at),
    primarySource: true,
    lotNumber: `L${between(c.rand('lot'), 1000000, 9999999)}`,
    route: codeable('http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', 'IM', 'Injection, intramuscular', 'Intramuscular'),
    doseQuantity: { value: 0.5, unit: 'mL', system: SYSTEMS.ucum, code: 'mL' },
    performer: [{ actor: c.practitioner }],
    protocolApplied: [{ doseNumberString: String(between(c.rand('dose'), 1, 3)) }]
  }
}

const DEVICES = [
  ['Bone Plates', 'GPC Medical LTD'],
  ['Cardiac pacemaker', 'Sandbox Cardiac Devices'],
  ['Knee joint prosthesis', 'Sandbox Orthopedics'],
  ['Cochlear implant', 'Sandbox Hearing Inc']
] as const

export const device: Generator = (c) => {
  const [text, manufacturer] = pick(DEVICES, c.rand('device'))
  const absent = { extension: [{ url: SYSTEMS.dataAbsent, valueCode: 'unknown' }] }
  return {
    text: narrative([['Device', text], ['Manufacturer', manufacturer]]),
    udiCarrier: [{ _deviceIdentifier: absent, carrierHRF: `+B066${between(c.rand('udi'), 100000, 999999)}NS1/$$4200202${c.index}`, entryType: 'manual' }],
    status: 'active',
    _distinctIdentifier: absent,
    manufacturer,
    serialNumber: (c.rand('serial') % 0xffff).toString(16),
    modelNumber: `Model ${between(c.rand('model'), 100, 999)}`,
    type: { text },
    patient: c.patient
  }
}

const VISITS = [
  ['99213', 'Office visit, established patient', '3 month f/u'],
  ['99214', 'Office visit, established patient, moderate', 'Follow-up of chronic conditions'],
  ['99203', 'Office visit, new patient', 'New patient visit'],
  ['99395', 'Preventive visit, 18-39 years', 'Annual physical'],
  ['99442', 'Telephone evaluation', 'Medication question']
] as const

export const encounter: Generator = (c) => {
  const [cpt, display, reason] = pick(VISITS, c.rand('visit'))
  const end = c.at + 30 * 60 * 1000
  return {
    text: narrative([['Encounter', display], ['Date', dateTime(c.at)]]),
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.4.391', value: c.id }],
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'Ambulatory' },
    type: [codeable(SYSTEMS.cpt, cpt, display)],
    subject: c.patient,
    participant: [{
      type: [codeable('http://terminology.hl7.org/CodeSystem/v3-ParticipationType', 'PPRF', 'primary performer', 'primary provider')],
      period: { start: dateTime(c.at), end: dateTime(end) },
      individual: c.practitioner
    }],
    period: { start: dateTime(c.at), end: dateTime(end) },
    reasonCode: [{ text: reason }],
    hospitalization: { dischargeDisposition: codeable('http://terminology.hl7.org/CodeSystem/discharge-disposition', 'home', 'Home') },
    location: [{ location: c.location }]
  }
}

const PROCEDURES = [
  ['92553', 'AUDIOMETRY, AIR'],
  ['93000', 'ELECTROCARDIOGRAM, COMPLETE'],
  ['36415', 'ROUTINE VENIPUNCTURE'],
  ['71046', 'X-RAY EXAM CHEST 2 VIEWS'],
  ['45378', 'DIAGNOSTIC COLONOSCOPY'],
  ['11102', 'TANGNTL BX SKIN SINGLE LES']
] as const

export const procedure: Generator = (c) => {
  const [cpt, text] = pick(PROCEDURES, c.rand('procedure'))
  return {
    text: narrative([['Procedure', text], ['Status', 'completed']]),
    status: 'completed',
    code: codeable(SYSTEMS.cpt, cpt, text),
    subject: c.patient,
    ...(c.encounter === undefined ? {} : { encounter: c.encounter }),
    performedDateTime: dateTime(c.at),
    asserter: c.practitioner
  }
}

/** Drugs shared by MedicationRequest and Medication (index i ↔ index i). */
export const DRUGS = [
  ['617320', 'Lipitor 40 MG Tablet', 'tablet', 'Orally'],
  ['861007', 'Metformin 500 MG Tablet', 'tablet', 'Orally'],
  ['314076', 'Lisinopril 10 MG Tablet', 'tablet', 'Orally'],
  ['308191', 'Amoxicillin 500 MG Capsule', 'capsule', 'Orally'],
  ['966222', 'Levothyroxine 50 MCG Tablet', 'tablet', 'Orally'],
  ['745679', 'Albuterol 90 MCG/ACTUAT Inhaler', 'puff', 'Inhaled'],
  ['198053', 'Omeprazole 20 MG Capsule', 'capsule', 'Orally'],
  ['312940', 'Sertraline 50 MG Tablet', 'tablet', 'Orally']
] as const

export const medicationRequest: Generator = (c) => {
  const [, text, unit, route] = pick(DRUGS, c.rand('drug'))
  const active = c.rand('status') % 3 !== 0
  const instruction = `${text} 1 ${unit} ${route} Once a day`
  return {
    text: narrative([['Medication', text], ['Instructions', instruction]]),
    status: active ? 'active' : 'completed',
    intent: 'order',
    reportedBoolean: false,
    medicationReference: c.ref('Medication', '', c.index),
    subject: c.patient,
    ...(c.encounter === undefined ? {} : { encounter: c.encounter }),
    authoredOn: dateTime(c.at),
    requester: c.practitioner,
    dosageInstruction: [{
      text: instruction,
      additionalInstruction: [{ text: `1 ${unit}` }],
      route: { text: route },
      doseAndRate: [{ doseQuantity: { value: 1, unit } }]
    }],
    dispenseRequest: { validityPeriod: { start: dateOnly(c.at) } }
  }
}
