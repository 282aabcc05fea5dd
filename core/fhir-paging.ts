import createError from '@fastify/error'
import type { FhirClient, FhirRequestContext } from './fhir-client.js'
import type { PlannedSearch } from './search-plan.js'

/** Per search: a practice that keeps sending `next` links is cut off here. */
export const DEFAULT_MAX_PAGES = 2000

/** One resource from a Bundle entry; only its type and id are checked. */
export type FhirResource = Record<string, unknown> & { resourceType: string, id: string }

/** One searchset page: its resources, in order, and the Bundle's `total` when stated. */
export interface Page {
  search: PlannedSearch
  /** 1 for the first page. */
  pageNumber: number
  resources: FhirResource[]
  total: number | undefined
}

/** Why paging stopped early. */
export type PagingStop = 'cycle' | 'max-pages' | 'refused-link' | 'not-a-bundle'

const PagingErrorBase = createError<'HEALOW_ERR_PAGING', 502, [string, string, number]>(
  'HEALOW_ERR_PAGING', 'Paging of %s stopped: %s after %d page(s)', 502)

/**
 * Paging stopped before the last page. Thrown by {@link pageSearch} after
 * every page fetched so far was yielded: what arrived is good, the search is
 * recorded as failed (`reason`), and the sync goes on.
 */
export class PagingError extends PagingErrorBase {
  readonly reason: PagingStop
  /** Pages yielded before the stop. */
  readonly pages: number
  constructor (searchId: string, reason: PagingStop, pages: number) {
    super(searchId, REASON_TEXT[reason], pages)
    this.name = 'PagingError'
    this.reason = reason
    this.pages = pages
  }
}

const REASON_TEXT: Record<PagingStop, string> = {
  cycle: 'a next link pointed back to a page already read',
  'max-pages': 'the page cap was reached',
  'refused-link': 'a next link left the practice base',
  'not-a-bundle': 'the practice answered with something other than a Bundle'
}

/** A rebased link's path below the base: FHIR types, ids (`[A-Za-z0-9\-.]{1,64}`), `_history`, `$operations`. */
const SUFFIX_RE = /^(\/[A-Za-z0-9._$-]+)*$/
/** Dot segments, raw or percent-encoded, anywhere in the link's path. */
const DOT_SEGMENT_RE = /\/(\.|%2e){1,2}(\/|\?|#|$)/i

/**
 * Rebases a Bundle link onto the practice base: path and query kept, origin
 * replaced. Healow's links name another origin
 * (`http://fhir4.eclinicalworks.com/fhir/r4/JAFJCD/...` while the API is
 * `https://fhir4.healow.com/fhir/r4/JAFJCD`), so a link is never followed
 * verbatim and the token never travels to the origin it names. Returns
 * `undefined` when the link is not an absolute http(s) URL, carries
 * credentials, or its path leaves the base path (another practice, dot
 * segments, encoded `.`, `/`, `\` or `%`).
 */
export function rebaseLink (link: string, baseUrl: string): URL | undefined {
  if (typeof link !== 'string' || !URL.canParse(link) || !URL.canParse(baseUrl)) return undefined
  if (DOT_SEGMENT_RE.test(link.split(/[?#]/, 1)[0] ?? '') || link.includes('\\')) return undefined
  const url = new URL(link)
  const base = new URL(baseUrl)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  if (url.username !== '' || url.password !== '') return undefined
  const basePath = base.pathname.replace(/\/+$/, '')
  // The practice code's case is the directory's choice, not the link's: the rebased URL keeps the base's spelling.
  const head = url.pathname.slice(0, basePath.length)
  if (head.toLowerCase() !== basePath.toLowerCase()) return undefined
  const suffix = url.pathname.slice(basePath.length)
  if (!SUFFIX_RE.test(suffix)) return undefined
  const rebased = new URL(base.origin)
  rebased.pathname = basePath + suffix
  rebased.search = url.search
  return rebased
}

/** The first page's URL: `{base}/{type}?{params}`. */
export function searchUrl (baseUrl: string, search: PlannedSearch): URL {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/${search.type}`)
  url.search = new URLSearchParams(search.params).toString()
  return url
}

interface BundleLike {
  resourceType?: unknown
  total?: unknown
  link?: unknown
  entry?: unknown
}

/** Resources of the entries; OperationOutcome entries (`search.mode = outcome`) and malformed ones are skipped. */
export function resourcesOf (bundle: BundleLike): FhirResource[] {
  if (!Array.isArray(bundle.entry)) return []
  const out: FhirResource[] = []
  for (const entry of bundle.entry as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue
    const { resource, search } = entry as { resource?: unknown, search?: { mode?: unknown } }
    if (search?.mode === 'outcome') continue
    if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) continue
    const { resourceType, id } = resource as { resourceType?: unknown, id?: unknown }
    if (typeof resourceType !== 'string' || typeof id !== 'string' || resourceType === '' || id === '') continue
    if (resourceType === 'OperationOutcome') continue
    out.push(resource as FhirResource)
  }
  return out
}

function nextLinkOf (bundle: BundleLike): string | undefined {
  if (!Array.isArray(bundle.link)) return undefined
  const next = (bundle.link as Array<{ relation?: unknown, url?: unknown }>).find((l) => typeof l === 'object' && l !== null && l.relation === 'next')
  return typeof next?.url === 'string' ? next.url : undefined
}

/**
 * Pages one search, one page at a time (memory does not grow with the size
 * of the record). Each `next` link is rebased onto the practice base with
 * {@link rebaseLink}. Stops early, throwing {@link PagingError}
 * (`HEALOW_ERR_PAGING`) after yielding every page it read, when a link
 * returns to a page already read, leaves the base, or the page cap
 * (`maxPages`, default {@link DEFAULT_MAX_PAGES}) is reached. Errors of the
 * client (FhirSearchError, upstream, reauth) pass through unchanged.
 */
export async function * pageSearch (
  client: FhirClient, ctx: FhirRequestContext, search: PlannedSearch, options: { maxPages?: number } = {}
): AsyncGenerator<Page, void, undefined> {
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES
  if (!Number.isSafeInteger(maxPages) || maxPages < 1) throw new RangeError('maxPages must be a positive whole number')
  let url: URL | undefined = searchUrl(ctx.baseUrl, search)
  const seen = new Set<string>([url.href])
  let pageNumber = 0
  while (url !== undefined) {
    const { body } = await client.getJson(ctx, url)
    const bundle = (typeof body === 'object' && body !== null ? body : {}) as BundleLike
    if (bundle.resourceType !== 'Bundle') throw new PagingError(search.id, 'not-a-bundle', pageNumber)
    pageNumber++
    const total = typeof bundle.total === 'number' && Number.isSafeInteger(bundle.total) && bundle.total >= 0 ? bundle.total : undefined
    yield { search, pageNumber, resources: resourcesOf(bundle), total }
    const link = nextLinkOf(bundle)
    if (link === undefined) return
    const next = rebaseLink(link, ctx.baseUrl)
    if (next === undefined) throw new PagingError(search.id, 'refused-link', pageNumber)
    if (seen.has(next.href)) throw new PagingError(search.id, 'cycle', pageNumber)
    if (pageNumber >= maxPages) throw new PagingError(search.id, 'max-pages', pageNumber)
    seen.add(next.href)
    url = next
  }
}
