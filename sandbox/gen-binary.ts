import { Readable } from 'node:stream'
import { hash32 } from './hash.js'

/** The bytes behind DocumentReference attachments, generated on demand. */

export interface AttachmentContent {
  contentType: string
  size: number
  /** The bytes; large ones are streamed so they never sit in memory. */
  open: () => Buffer | Readable
}

const LINES = [
  'Patient seen for follow-up. Reports feeling well.',
  'Medications reviewed and reconciled.',
  'Vital signs within normal limits.',
  'Plan discussed with the patient, who agrees.',
  'Return to clinic in three months or sooner if needed.'
]
const FILLER = 'This line pads a large sandbox attachment so size caps can be tested.\n'
const CHUNK = 64 * 1024

/** A short note as plain text, or as a one-page PDF for every third document. */
export function describeAttachment (seed: string, patientIndex: number, index: number, title: string, largeBytes: number | undefined): AttachmentContent {
  if (largeBytes !== undefined) return largeText(title, largeBytes)
  const h = hash32(seed, 'attachment', patientIndex, index)
  const body = `${title}\n\n${LINES.slice(0, 2 + (h % 4)).join('\n')}\n`
  const bytes = index % 3 === 2 ? Buffer.from(tinyPdf(body), 'latin1') : Buffer.from(body, 'utf8')
  return { contentType: index % 3 === 2 ? 'application/pdf' : 'text/plain', size: bytes.length, open: () => bytes }
}

function largeText (title: string, size: number): AttachmentContent {
  const head = Buffer.from(`${title}\n\n`, 'utf8')
  return {
    contentType: 'text/plain',
    size,
    open: () => Readable.from(chunksOf(head, size))
  }
}

function * chunksOf (head: Buffer, size: number): Generator<Buffer> {
  const filler = Buffer.from(FILLER.repeat(Math.ceil(CHUNK / FILLER.length)), 'utf8')
  let sent = 0
  const first = head.subarray(0, size)
  sent += first.length
  yield first
  while (sent < size) {
    const piece = filler.subarray(0, Math.min(CHUNK, size - sent))
    sent += piece.length
    yield piece
  }
}

/** A minimal, valid one-page PDF showing the note's first line. */
function tinyPdf (text: string): string {
  const line = (text.split('\n')[0] ?? '').replace(/[()\\]/g, '')
  const stream = `BT /F1 12 Tf 72 720 Td (${line}) Tj ET`
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'
  ]
  let out = '%PDF-1.4\n'
  const offsets: number[] = []
  objects.forEach((body, i) => {
    offsets.push(out.length)
    out += `${i + 1} 0 obj\n${body}\nendobj\n`
  })
  const xref = out.length
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`
  for (const at of offsets) out += `${String(at).padStart(10, '0')} 00000 n \n`
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return out
}
