import { between, pick } from './hash.js'
import { codeable, dateTime, instant, narrative, SYSTEMS, usCore, type GenContext, type Generator } from './gen-context.js'

/** One Observation generator per category; search by category pages only that one. */

const LABS = [
  ['718-7', 'Hemoglobin', 'g/dL', 12, 17.5],
  ['6690-2', 'WBC', '10*3/uL', 4, 11],
  ['789-8', 'RBC', '10*6/uL', 4.2, 5.9],
  ['2345-7', 'Glucose', 'mg/dL', 70, 140],
  ['2160-0', 'Creatinine', 'mg/dL', 0.6, 1.3],
  ['2093-3', 'Cholesterol', 'mg/dL', 150, 260],
  ['4548-4', 'Hemoglobin A1c', '%', 4.8, 9],
  ['2951-2', 'Sodium', 'mmol/L', 135, 145],
  ['2823-3', 'Potassium', 'mmol/L', 3.5, 5.1],
  ['777-3', 'Platelets', '10*3/uL', 150, 400]
] as const

const VITALS = [
  ['8867-4', 'Heart rate', '/min', 55, 100],
  ['9279-1', 'Respiratory rate', '/min', 12, 20],
  ['8310-5', 'Body temperature', 'Cel', 36.1, 37.8],
  ['29463-7', 'Body weight', 'kg', 50, 110],
  ['8302-2', 'Body height', 'cm', 150, 195],
  ['39156-5', 'Body mass index', 'kg/m2', 18, 35],
  ['2708-6', 'Oxygen saturation in Arterial blood', '%', 93, 100]
] as const

const CATEGORY_DISPLAY: Record<string, string> = {
  laboratory: 'Laboratory',
  'vital-signs': 'Vital Signs',
  'social-history': 'Social History',
  survey: 'Survey',
  exam: 'Exam',
  imaging: 'Imaging',
  procedure: 'Procedure',
  therapy: 'Therapy',
  activity: 'Activity',
  sdoh: 'SDOH'
}

/** A measured value in [low, high] with one decimal, fixed by the resource identity. */
function measure (c: GenContext, low: number, high: number): number {
  return Math.round((low + (c.rand('value') % 1000) / 1000 * (high - low)) * 10) / 10
}

function quantity (value: number, unit: string): Record<string, unknown> {
  return { value, unit, system: SYSTEMS.ucum, code: unit }
}

function laboratory (c: GenContext): Record<string, unknown> {
  const [code, text, unit, low, high] = pick(LABS, c.rand('lab'))
  const value = measure(c, low * 0.8, high * 1.2)
  const flag = value < low ? 'L' : value > high ? 'H' : 'N'
  return {
    profile: 'us-core-observation-lab',
    code: codeable(SYSTEMS.loinc, code, text),
    value: { valueQuantity: quantity(value, unit) },
    extra: {
      interpretation: [codeable('http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', flag, { L: 'Low', H: 'High', N: 'Normal' }[flag])],
      referenceRange: [{ low: quantity(low, unit), high: quantity(high, unit) }]
    }
  }
}

function vitalSigns (c: GenContext): Record<string, unknown> {
  if (c.rand('bp') % 4 === 0) {
    const mm = (v: number): Record<string, unknown> => quantity(v, 'mm[Hg]')
    return {
      profile: 'us-core-blood-pressure',
      code: codeable(SYSTEMS.loinc, '85354-9', 'Blood pressure panel with all children optional'),
      value: {},
      extra: {
        component: [
          { code: codeable(SYSTEMS.loinc, '8480-6', 'Systolic blood pressure'), valueQuantity: mm(between(c.rand('sys'), 100, 160)) },
          { code: codeable(SYSTEMS.loinc, '8462-4', 'Diastolic blood pressure'), valueQuantity: mm(between(c.rand('dia'), 60, 100)) }
        ]
      }
    }
  }
  const [code, text, unit, low, high] = pick(VITALS, c.rand('vital'))
  return { profile: 'us-core-vital-signs', code: codeable(SYSTEMS.loinc, code, text), value: { valueQuantity: quantity(measure(c, low, high), unit) } }
}

const SMOKING = [['266919005', 'Never smoker'], ['8517006', 'Ex-smoker'], ['449868002', 'Smokes tobacco daily']] as const
const FOOD = [['LA28397-0', 'Often true'], ['LA6729-3', 'Sometimes true'], ['LA28398-8', 'Never true']] as const
const FINDINGS = [
  ['exam', '10210-3', 'Physical findings of General status', 'Alert and oriented, in no acute distress'],
  ['exam', '32451-7', 'Physical findings of Eye', 'Pupils equal and reactive'],
  ['imaging', '36643-5', 'XR Chest 2 Views', 'No acute cardiopulmonary process'],
  ['imaging', '24558-9', 'CT Abdomen', 'No acute abnormality'],
  ['procedure', '8601-7', 'EKG impression', 'Normal sinus rhythm'],
  ['therapy', '11332-4', 'History of Physical therapy', 'Tolerated session well'],
  ['activity', '89574-8', 'Daily walking', 'Walks 30 minutes a day']
] as const

function coded (c: GenContext): Record<string, unknown> {
  switch (c.part) {
    case 'social-history': {
      const [code, text] = pick(SMOKING, c.rand('smoke'))
      return { profile: 'us-core-smokingstatus', code: codeable(SYSTEMS.loinc, '72166-2', 'Tobacco smoking status'), value: { valueCodeableConcept: codeable(SYSTEMS.snomed, code, text) } }
    }
    case 'survey':
      return { profile: 'us-core-observation-survey', code: codeable(SYSTEMS.loinc, '55758-7', 'PHQ-2 total score'), value: { valueInteger: c.rand('phq') % 7 } }
    case 'sdoh': {
      const [code, text] = pick(FOOD, c.rand('food'))
      return { profile: 'us-core-observation-sdoh-assessment', code: codeable(SYSTEMS.loinc, '88122-7', 'Within the past 12 months we worried whether our food would run out of money to buy more'), value: { valueCodeableConcept: codeable(SYSTEMS.loinc, code, text) } }
    }
    case 'activity':
      if (c.rand('steps') % 2 === 0) return { profile: 'us-core-observation-clinical-result', code: codeable(SYSTEMS.loinc, '55423-8', 'Number of steps'), value: { valueQuantity: { value: between(c.rand('n'), 1500, 14000), unit: 'steps' } } }
  }
  const options = FINDINGS.filter((f) => f[0] === c.part)
  const [, code, text, value] = pick(options, c.rand('finding'))
  return { profile: 'us-core-observation-clinical-result', code: codeable(SYSTEMS.loinc, code, text), value: { valueString: value } }
}

/** The value as the narrative shows it: `5.2 mg/dL`, a coded text, or the plain value. */
function shownValue (value: Record<string, unknown>): string {
  const v = Object.values(value)[0] as { value?: unknown, unit?: string, text?: string } | string | number | undefined
  if (v === undefined) return 'see components'
  if (typeof v !== 'object') return String(v)
  return v.text ?? `${String(v.value)} ${v.unit ?? ''}`.trim()
}

/** Observation of the context's category. */
export const observation: Generator = (c) => {
  const shape = c.part === 'laboratory' ? laboratory(c) : c.part === 'vital-signs' ? vitalSigns(c) : coded(c)
  const { profile, code, value, extra } = shape as { profile: string, code: { text: string }, value: Record<string, unknown>, extra?: Record<string, unknown> }
  const system = c.part === 'sdoh' ? SYSTEMS.usCoreCategory : SYSTEMS.obsCategory
  return {
    profile: usCore(profile),
    text: narrative([['Observation', code.text], ['Value', shownValue(value)]]),
    status: 'final',
    category: [codeable(system, c.part, CATEGORY_DISPLAY[c.part] ?? c.part)],
    code,
    subject: c.patient,
    ...(c.encounter === undefined ? {} : { encounter: c.encounter }),
    effectiveDateTime: dateTime(c.at),
    issued: instant(c.at + 3_600_000),
    performer: [c.part === 'laboratory' ? c.organization : c.practitioner],
    ...value,
    ...extra
  }
}
