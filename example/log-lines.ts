import { Writable } from 'node:stream'

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }
/** pino's own fields, shown as the line's head rather than as key=value. */
const SKIPPED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'v'])

function formatValue (value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value)
}

/** One pino JSON line as `12:34:56 INFO  message key=value ...`; anything else passes through. */
export function formatLogLine (line: string): string {
  let entry: Record<string, unknown>
  try { entry = JSON.parse(line) as Record<string, unknown> } catch { return line }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : ''
  const level = LEVELS[Number(entry.level)] ?? String(entry.level)
  const fields = Object.entries(entry).filter(([k]) => !SKIPPED.has(k)).map(([k, v]) => `${k}=${formatValue(v)}`)
  return [time, level, typeof entry.msg === 'string' ? entry.msg : '', ...fields].filter((p) => p !== '').join(' ')
}

/**
 * A destination for pino that prints readable lines (for a terminal). It
 * formats what pino already redacted, so it cannot show a secret pino hid.
 */
export function createLineStream (out: NodeJS.WritableStream = process.stdout): Writable {
  return new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') out.write(`${formatLogLine(line)}\n`)
      done()
    }
  })
}
