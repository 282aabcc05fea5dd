import { randomUUID } from 'node:crypto'
import { PARTITIONED, partitionsOf } from './catalog.js'
import { fhirBasePath, type SandboxContext } from './context.js'
import { instant } from './gen-context.js'
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './options.js'

/** A search answer: a Bundle, or an error with the status and diagnostics eCW would send. */
export type SearchResult =
  | { bundle: Record<string, unknown> }
  | { status: number, diagnostics: string, code?: string }

/** The sandbox's own paging parameter: paging state lives in the query, so any next link rebased onto the sandbox works. */
export const OFFSET_PARAM = '_offset'

/** eCW's 400 for a parameter combination it has no handler for (recording). */
export function unhandledParams (names: string[]): string {
  const ordered = [...names.filter((n) => !n.startsWith('_')), ...names.filter((n) => n.startsWith('_'))]
  return `Invalid request: Does not know how to handle get operation with parameter [${ordered.join(',')}]`
}

/** Token values may come as `system|code`; several are comma-separated (FHIR search §3.1.1.4). */
function tokenValues (value: string): string[] {
  return value.split(',').map((v) => v.slice(v.lastIndexOf('|') + 1)).filter((v) => v !== '')
}

function parseCount (value: string | undefined, fallback: number): number | undefined {
  if (value === undefined) return fallback
  return /^\d{1,9}$/.test(value) ? Number(value) : undefined
}

/**
 * The parameters each type accepts. Observation and CarePlan need `category`,
 * CareTeam needs `status`, Provenance takes only `_id`, Patient only `_id`;
 * anything else gets eCW's "Does not know how to handle" 400.
 */
function accepts (type: string, names: Set<string>): boolean {
  const has = (n: string): boolean => names.has(n)
  const others = [...names].filter((n) => !['_count', OFFSET_PARAM].includes(n))
  if (type === 'Patient' || type === 'Provenance') return others.length === 1 && has('_id')
  const required = PARTITIONED[type]?.param
  const allowed = new Set(['patient', ...(required === undefined ? [] : [required])])
  return has('patient') && (required === undefined || has(required)) && others.every((n) => allowed.has(n))
}

/**
 * Runs a search for the patient the token belongs to. `query` is the raw
 * query string (its order is kept in the self link).
 */
export function search (ctx: SandboxContext, type: string, query: string, patientIndex: number): SearchResult {
  const params = new URLSearchParams(query)
  const names = [...new Set(params.keys())]
  if (!accepts(type, new Set(names))) return { status: 400, diagnostics: unhandledParams(names) }
  const count = parseCount(params.get('_count') ?? undefined, DEFAULT_PAGE_SIZE)
  const offset = parseCount(params.get(OFFSET_PARAM) ?? undefined, 0)
  if (count === undefined || offset === undefined) return { status: 400, diagnostics: 'Invalid request: _count and _offset must be non-negative integers', code: 'invalid' }
  const store = ctx.store
  if (type === 'Provenance') return { bundle: bundle(ctx, type, params, 0, [], offset, count) }
  const subject = type === 'Patient' ? params.get('_id') ?? '' : (params.get('patient') ?? '').replace(/^(.*\/)?Patient\//, '')
  if (store.patientIndex(subject) !== patientIndex) {
    return { status: 403, diagnostics: 'Access denied: the token does not grant access to this patient', code: 'forbidden' }
  }
  if (type === 'Patient') return { bundle: bundle(ctx, type, params, 1, [store.build('Patient', '', patientIndex, 0)], offset, count) }
  const required = PARTITIONED[type]?.param
  const wanted = required === undefined ? [''] : tokenValues(params.getAll(required).join(','))
  const parts = partitionsOf(type).filter((p) => wanted.includes(p))
  const sizes = parts.map((p) => store.count(patientIndex, type, p))
  const total = sizes.reduce((a, b) => a + b, 0)
  if (type === 'Goal' && ctx.traffic.faults.goalQuirk === true) return { bundle: bundle(ctx, type, params, 50, [], offset, count, false) }
  const page = Math.min(count, MAX_PAGE_SIZE)
  const entries = []
  // Walk the partitions in order; the page is built resource by resource, nothing else is held.
  let skip = offset
  for (let k = 0; k < parts.length && entries.length < page; k++) {
    const size = sizes[k] ?? 0
    if (skip >= size) { skip -= size; continue }
    for (let i = skip; i < size && entries.length < page; i++) entries.push(store.build(type, parts[k] ?? '', patientIndex, i))
    skip = 0
  }
  return { bundle: bundle(ctx, type, params, total, entries, offset, page) }
}

/**
 * A searchset Bundle. Its links and fullUrls use the foreign link origin, as
 * Healow's do (`http://fhir4.eclinicalworks.com/fhir/r4/{code}/...`).
 */
function bundle (
  ctx: SandboxContext, type: string, params: URLSearchParams, total: number,
  resources: Array<Record<string, unknown> & { id: string }>, offset: number, count: number, paged = true
): Record<string, unknown> {
  const base = ctx.options.linkOrigin + fhirBasePath(ctx.options.practiceCode)
  const link = [{ relation: 'self', url: `${base}/${type}?${params.toString()}` }]
  const faults = ctx.traffic.faults
  const nextOffset = faults.nextLinkLoop === true && offset > 0 ? 0 : offset + count
  if (paged && count > 0 && (offset + count < total || (faults.nextLinkLoop === true && offset > 0))) {
    if (nextOffset === 0) ctx.traffic.countFault('loop')
    const next = new URLSearchParams(params)
    next.delete(OFFSET_PARAM)
    next.set('_count', String(count))
    next.set(OFFSET_PARAM, String(nextOffset))
    link.push({ relation: 'next', url: `${base}/${type}?${next.toString()}` })
  }
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: instant(ctx.options.now()) },
    type: 'searchset',
    total,
    link,
    ...(resources.length === 0 ? {} : { entry: resources.map((resource) => ({ fullUrl: `${base}/${type}/${resource.id}`, resource, search: { mode: 'match' } })) })
  }
}
