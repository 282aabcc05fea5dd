/**
 * Durations in configuration: `90s`, `15m`, `12h`, `7d`, `1w`, or plain
 * milliseconds. Kept by hand because the grammar is five units and a library
 * would accept forms ("1.5 hours", "2 years") we do not want to document.
 */
const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000
} as const

const DURATION_RE = /^(\d+)\s*(ms|s|m|h|d|w)?$/

/** Parses a duration; returns `undefined` when the text is not one. */
export function parseDuration (input: string | number): number | undefined {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0 ? input : undefined
  }
  const match = DURATION_RE.exec(input.trim().toLowerCase())
  if (match === null) return undefined
  const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS
  const value = Number(match[1]) * UNIT_MS[unit]
  return Number.isSafeInteger(value) ? value : undefined
}

/** Formats milliseconds as the largest exact unit (`604800000` → `7d`). */
export function formatDuration (ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms > 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`
  }
  return `${ms}ms`
}
