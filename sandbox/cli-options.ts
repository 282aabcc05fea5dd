import { parseArgs, type ParseArgsConfig } from 'node:util'
import { parseDuration } from '../core/duration.js'
import type { SandboxSize } from './catalog.js'
import type { SandboxOptions } from './options.js'

/** Flags of `npm run sandbox`; each has a `SANDBOX_*` variable (flag wins). */
export const CLI_FLAGS = {
  port: { type: 'string', env: 'SANDBOX_PORT', help: 'port (default: any free port)' },
  host: { type: 'string', env: 'SANDBOX_HOST', help: 'address to listen on (default 127.0.0.1)' },
  seed: { type: 'string', env: 'SANDBOX_SEED', help: 'seed of the synthetic records' },
  size: { type: 'string', env: 'SANDBOX_SIZE', help: 'small | medium | large | number of resources per patient' },
  patients: { type: 'string', env: 'SANDBOX_PATIENTS', help: 'number of patients (default 3)' },
  'practice-code': { type: 'string', env: 'SANDBOX_PRACTICE_CODE', help: 'practice code in the FHIR base (default SANDBX)' },
  'token-ttl': { type: 'string', env: 'SANDBOX_TOKEN_TTL', help: 'access token lifetime: seconds, or 90s / 15m / 1h' },
  'rate-limit': { type: 'string', env: 'SANDBOX_RATE_LIMIT', help: 'calls per calendar minute before 429 (0 = off; default 250)' },
  latency: { type: 'string', env: 'SANDBOX_LATENCY', help: 'milliseconds added to every FHIR response' },
  'fail-rate': { type: 'string', env: 'SANDBOX_FAIL_RATE', help: 'fraction of FHIR requests answered 503 (0..1)' },
  'auto-approve': { type: 'boolean', env: 'SANDBOX_AUTO_APPROVE', help: 'skip the consent page (first patient)' },
  'redirect-uri': { type: 'string', multiple: true, env: 'SANDBOX_REDIRECT_URIS', help: 'accepted redirect URI (repeatable; env: comma-separated)' },
  'link-origin': { type: 'string', env: 'SANDBOX_LINK_ORIGIN', help: 'origin of Bundle links (default http://fhir4.eclinicalworks.com)' },
  'goal-quirk': { type: 'boolean', env: 'SANDBOX_GOAL_QUIRK', help: 'Goal searches answer total 50 with no entries' },
  help: { type: 'boolean', env: '', help: 'show this help' }
} as const

type FlagName = keyof typeof CLI_FLAGS

export function cliHelp (): string {
  const lines = Object.entries(CLI_FLAGS).map(([name, f]) => `  --${name.padEnd(15)} ${f.help}${f.env === '' ? '' : ` [${f.env}]`}`)
  return `Usage: npm run sandbox -- [options]\n\nA local practice that behaves like Healow (SMART on FHIR R4).\n\n${lines.join('\n')}\n`
}

function toInt (name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a whole number, got ${JSON.stringify(text)}`)
  return Number(text)
}

function toBool (text: string): boolean {
  return ['1', 'true', 'yes', 'on'].includes(text.toLowerCase())
}

function toSize (text: string): SandboxSize {
  if (text === 'small' || text === 'medium' || text === 'large') return text
  return toInt('size', text)
}

/** Plain numbers are seconds; durations (`15m`, `1h`) are accepted too. */
function toSeconds (text: string): number {
  if (/^\d+$/.test(text)) return Number(text)
  const ms = parseDuration(text)
  if (ms === undefined || ms < 1000) throw new Error(`--token-ttl must be seconds or a duration like 15m, got ${JSON.stringify(text)}`)
  return Math.floor(ms / 1000)
}

/** Reads flags, then `SANDBOX_*` variables for what the flags leave out. */
export function parseCliOptions (argv: string[], env: Record<string, string | undefined>): { options: SandboxOptions, help: boolean } {
  const spec = Object.fromEntries(Object.entries(CLI_FLAGS).map(([name, f]) => [name, { type: f.type, ...('multiple' in f ? { multiple: true } : {}) }]))
  const { values } = parseArgs({ args: argv, options: spec as ParseArgsConfig['options'], strict: true, allowPositionals: false })
  const get = (name: FlagName): string | undefined => {
    const v = (values as Record<string, unknown>)[name]
    if (typeof v === 'boolean') return v ? 'true' : undefined
    if (Array.isArray(v)) return v.join(',')
    if (typeof v === 'string') return v
    const fromEnv = CLI_FLAGS[name].env === '' ? undefined : env[CLI_FLAGS[name].env]
    return fromEnv === '' ? undefined : fromEnv
  }
  const options: SandboxOptions = {}
  const faults: NonNullable<SandboxOptions['faults']> = {}
  const text = (name: FlagName, apply: (v: string) => void): void => {
    const v = get(name)
    if (v !== undefined) apply(v)
  }
  text('port', (v) => { options.port = toInt('port', v) })
  text('host', (v) => { options.host = v })
  text('seed', (v) => { options.seed = v })
  text('size', (v) => { options.size = toSize(v) })
  text('patients', (v) => { options.patients = toInt('patients', v) })
  text('practice-code', (v) => { options.practiceCode = v })
  text('token-ttl', (v) => { options.tokenTtlSeconds = toSeconds(v) })
  text('rate-limit', (v) => { options.rateLimit = toInt('rate-limit', v) })
  text('latency', (v) => { faults.latencyMs = toInt('latency', v) })
  text('fail-rate', (v) => {
    const rate = Number(v)
    if (!(rate >= 0 && rate <= 1)) throw new Error(`--fail-rate must be from 0 to 1, got ${JSON.stringify(v)}`)
    faults.failRate = rate
  })
  text('auto-approve', (v) => { options.autoApprove = toBool(v) })
  text('redirect-uri', (v) => { options.redirectUris = v.split(',').map((s) => s.trim()).filter((s) => s !== '') })
  text('link-origin', (v) => { options.linkOrigin = v })
  text('goal-quirk', (v) => { faults.goalQuirk = toBool(v) })
  if (Object.keys(faults).length > 0) options.faults = faults
  return { options, help: (values as Record<string, unknown>).help === true }
}
