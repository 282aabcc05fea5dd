import { z } from 'zod'
import { isAllowedOrigin, stripTrailingSlash } from './net.js'

/** A practice: `url` is its FHIR base without a trailing slash (Healow's `aud`). */
export interface Tenant { id: string, name: string, url: string, authorize: string, token: string }

/** eClinicalWorks' authorization server is shared by every practice. */
export const HEALOW_AUTHORIZE_URL = 'https://oauthserver.eclinicalworks.com/oauth/oauth2/authorize'
export const HEALOW_TOKEN_URL = 'https://oauthserver.eclinicalworks.com/oauth/oauth2/token'
/** FHIR base per practice: `https://fhir4.healow.com/fhir/r4/{practice code}`. */
export const HEALOW_URL_TEMPLATE = 'https://fhir4.healow.com/fhir/r4/{id}'

export const DIRECTORY_SHAPES = 'a FHIR Bundle of Endpoint + Organization resources (the published Healow directory), ' +
  'a JSON array of {id, name, url, authorize?, token?}, or the compact {"practices": [[id, name, url?], ...]} form'

/** The file (or JSON value) is not one of the directory shapes: a start-up error. */
export class DirectoryFormatError extends Error {
  readonly code = 'HEALOW_ERR_DIRECTORY'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DirectoryFormatError'
  }
}

export interface ParseOptions {
  /** Accept `http://` practice URLs on loopback hosts (tests, the sandbox). */
  insecureLoopback?: boolean
}

export interface ParsedDirectory {
  tenants: Tenant[]
  /** Malformed entries left out. */
  skipped: number
  /** Well-formed entries left out because the directory marks them inactive. */
  inactive: number
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: '\'', nbsp: ' ' }

/** Some published names carry HTML entities (`Pediatrics &amp; Adolescent Care`). */
function decodeEntities (text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, body: string) => {
    if (body[0] !== '#') return ENTITIES[body.toLowerCase()] ?? whole
    const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10)
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole
  })
}

/** Parses `value` as an allowed URL with no query, fragment or credentials; `undefined` when not. */
function checkUrl (value: string, insecureLoopback: boolean): string | undefined {
  if (value.includes('?') || value.includes('#')) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.username !== '' || url.password !== '' || url.hostname === '') return undefined
  return isAllowedOrigin(url, insecureLoopback) ? url.href : undefined
}

function urlField (insecureLoopback: boolean, strip: boolean) {
  return z.string().trim().transform((value, ctx) => {
    const href = checkUrl(value, insecureLoopback)
    if (href === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be an https:// URL with no query, fragment or credentials' })
      return z.NEVER
    }
    return strip ? stripTrailingSlash(href) : href
  })
}

function createEntrySchema (insecureLoopback: boolean) {
  return z.object({
    id: z.string().trim().regex(/^[A-Za-z0-9_-]{1,64}$/).transform((id) => id.toUpperCase()),
    name: z.string().transform((name) => decodeEntities(name).replace(/\s+/g, ' ').trim()).pipe(z.string().min(1).max(300)),
    // Healow's `aud` is the FHIR base exactly, without a trailing slash.
    url: urlField(insecureLoopback, true),
    authorize: urlField(insecureLoopback, false).default(HEALOW_AUTHORIZE_URL),
    token: urlField(insecureLoopback, false).default(HEALOW_TOKEN_URL)
  })
}

const entrySchemas = { secure: createEntrySchema(false), loopback: createEntrySchema(true) }

/** Validates one `{id, name, url, authorize?, token?}` candidate; `undefined` when malformed. */
export function parseTenant (value: unknown, options: ParseOptions = {}): Tenant | undefined {
  const schema = options.insecureLoopback === true ? entrySchemas.loopback : entrySchemas.secure
  const parsed = schema.safeParse(value)
  return parsed.success ? parsed.data : undefined
}

const resourceSchema = z.looseObject({ resourceType: z.string(), id: z.string().optional() })
const reference = z.looseObject({ reference: z.string().optional() }).optional().catch(undefined)
const endpointSchema = z.looseObject({
  id: z.string(),
  status: z.string().optional().catch(undefined),
  name: z.string().optional().catch(undefined),
  address: z.unknown(),
  managingOrganization: reference
})
const organizationSchema = z.looseObject({
  id: z.string(),
  active: z.boolean().optional().catch(undefined),
  name: z.string().optional().catch(undefined)
})

type Candidate = { inactive: boolean; value: unknown }

/**
 * The published directory: Endpoint + Organization pairs sharing one id.
 * The name comes from the Organization (falling back to the Endpoint's), the
 * FHIR base from `Endpoint.address`; the OAuth URLs are eCW's shared ones.
 */
function readBundle (entries: unknown[]): { candidates: Candidate[]; malformed: number } {
  const endpoints: Array<z.infer<typeof endpointSchema>> = []
  const organizations = new Map<string, z.infer<typeof organizationSchema>>()
  let malformed = 0
  for (const entry of entries) {
    const resource = (entry as { resource?: unknown } | null)?.resource
    const head = resourceSchema.safeParse(resource)
    if (!head.success) { malformed++; continue }
    if (head.data.resourceType === 'Endpoint') {
      const endpoint = endpointSchema.safeParse(resource)
      if (endpoint.success) endpoints.push(endpoint.data)
      else malformed++
    } else if (head.data.resourceType === 'Organization') {
      const organization = organizationSchema.safeParse(resource)
      if (organization.success) organizations.set(organization.data.id, organization.data)
      else malformed++
    }
    // Other resource types (an OperationOutcome, say) are not practices.
  }
  const used = new Set<string>()
  const candidates = endpoints.map((endpoint): Candidate => {
    const orgRef = endpoint.managingOrganization?.reference?.replace(/^Organization\//, '')
    const organization = organizations.get(endpoint.id) ?? (orgRef === undefined ? undefined : organizations.get(orgRef))
    if (organization !== undefined) used.add(organization.id)
    const orgName = organization?.name?.trim()
    const name = orgName !== undefined && orgName !== '' ? orgName : endpoint.name
    // FHIR Endpoint.status: only `active` endpoints take connections.
    const inactive = (endpoint.status !== undefined && endpoint.status !== 'active') || organization?.active === false
    return { inactive, value: { id: endpoint.id, name, url: endpoint.address } }
  })
  // An Organization with no Endpoint cannot be connected to: count it as malformed.
  for (const id of organizations.keys()) if (!used.has(id)) malformed++
  return { candidates, malformed }
}

/** The compact shipped form: `[id, name, url?, authorize?, token?]` rows; a missing url follows `urlTemplate`. */
function readCompact (json: { practices: unknown[]; urlTemplate?: unknown }): Candidate[] {
  const template = typeof json.urlTemplate === 'string' ? json.urlTemplate : undefined
  return json.practices.map((row): Candidate => {
    if (!Array.isArray(row)) return { inactive: false, value: row }
    const [id, name, url, authorize, token] = row as unknown[]
    return {
      inactive: false,
      value: {
        id,
        name,
        url: url ?? (template !== undefined && typeof id === 'string' ? template.replace('{id}', id) : undefined),
        authorize: authorize ?? undefined,
        token: token ?? undefined
      }
    }
  })
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Reads any of the three directory shapes ({@link DIRECTORY_SHAPES}) into
 * validated practices: ids upper-cased, URLs checked (https, or http on
 * loopback with `insecureLoopback`), trailing slashes stripped from `url`.
 * Malformed entries are skipped and counted; a value of another shape throws
 * a {@link DirectoryFormatError}.
 */
export function parseDirectory (json: unknown, options: ParseOptions = {}): ParsedDirectory {
  let candidates: Candidate[]
  let skipped = 0
  if (Array.isArray(json)) {
    candidates = json.map((value) => ({ inactive: false, value }))
  } else if (isRecord(json) && json.resourceType === 'Bundle' && (json.entry === undefined || Array.isArray(json.entry))) {
    const read = readBundle((json.entry ?? []) as unknown[])
    candidates = read.candidates
    skipped = read.malformed
  } else if (isRecord(json) && Array.isArray(json.practices)) {
    candidates = readCompact(json as { practices: unknown[] })
  } else {
    throw new DirectoryFormatError(`not a practice directory: expected ${DIRECTORY_SHAPES}`)
  }
  const tenants: Tenant[] = []
  let inactive = 0
  for (const candidate of candidates) {
    const tenant = parseTenant(candidate.value, options)
    if (tenant === undefined) skipped++
    else if (candidate.inactive) inactive++
    else tenants.push(tenant)
  }
  return { tenants, skipped, inactive }
}

/**
 * Writes practices in the compact shipped form, one row per line (readable
 * diffs), sorted by id. The url is left out when it follows the Healow
 * template, and authorize/token when they are eCW's shared URLs.
 */
export function formatCompactDirectory (tenants: readonly Tenant[], meta: { generated: string; source: string }): string {
  const rows = [...tenants].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((t) => {
    const row: Array<string | null> = [t.id, t.name]
    const custom = t.authorize !== HEALOW_AUTHORIZE_URL || t.token !== HEALOW_TOKEN_URL
    const templated = t.url === HEALOW_URL_TEMPLATE.replace('{id}', t.id)
    if (!templated || custom) row.push(templated ? null : t.url)
    if (custom) row.push(t.authorize, t.token)
    return JSON.stringify(row)
  })
  const head = JSON.stringify({ generated: meta.generated, source: meta.source, count: rows.length, urlTemplate: HEALOW_URL_TEMPLATE })
  return `${head.slice(0, -1)},\n"practices": [\n${rows.join(',\n')}\n]}\n`
}
