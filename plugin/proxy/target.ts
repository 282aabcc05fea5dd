import createError from '@fastify/error'
import { stripTrailingSlash } from '../../core/net.js'
import { isReadType } from '../../core/resource-types.js'

/** The FHIR path after the connection id: longer is refused. */
export const MAX_PROXY_PATH_LENGTH = 1024
/** The query string: longer is refused. */
export const MAX_PROXY_QUERY_LENGTH = 2048

export const ProxyPathError = createError<'HEALOW_ERR_PROXY_PATH', 400, [string]>(
  'HEALOW_ERR_PROXY_PATH',
  'The proxy forwards only reads and searches of a FHIR resource type (Type, Type/id, Type/id/_history/vid, metadata): %s',
  400)

/** What the proxy will ask the practice for, relative to its FHIR base. */
export interface ProxyTarget {
  connectionId: string
  /** `Type`, `Type/id`, `Type/id/_history/vid`, `metadata`, or '' (paging on the base). */
  path: string
  /** The raw query without `?`, '' when none; checked, never decoded. */
  query: string
}

const CONNECTION_ID_RE = /^[A-Za-z0-9_-]{1,128}$/
/** FHIR R4 id: `[A-Za-z0-9\-\.]{1,64}` (FHIR datatypes, id). */
const ID = '[A-Za-z0-9.-]{1,64}'
const PATH_RE = new RegExp(`^([A-Za-z]{1,64})(?:/(${ID})(?:/_history/(${ID}))?)?$`)
/**
 * Characters a query may carry raw: RFC 3986 unreserved, sub-delims but `'`,
 * `:`, `/`, `?`, `%` (checked below) and `|` (FHIR token search `system|code`,
 * which browsers leave unencoded). No `@`, `\`, `#`, quotes, spaces or
 * anything outside ASCII: a client encodes those.
 */
const QUERY_RE = /^[A-Za-z0-9\-._~!$&()*+,;=:/?|%]*$/
const BAD_PERCENT_RE = /%(?![0-9A-Fa-f]{2})/
/** Encoded C0 controls and DEL (CR, LF and NUL among them): header and log injection. */
const ENCODED_CONTROL_RE = /%(?:[01][0-9A-Fa-f]|7[Ff])/
/**
 * HAPI servers (Healow's answers name HAPI FHIR) page on the base itself:
 * `{base}?_getpages=...`. The base alone is allowed only for that.
 */
const BASE_PAGING_RE = /(?:^|&)_getpages=[A-Za-z0-9._-]{1,128}(?:&|$)/

/**
 * Splits and checks the RAW request URL (`request.raw.url`, before any
 * decoding or normalising, which is where traversal hides) into a connection
 * id and a FHIR-relative target. `routePrefix` is the literal part of the
 * route before the connection id, like `/healow/proxy/`. Throws
 * `HEALOW_ERR_PROXY_PATH` (400) for anything but a plain read or search of
 * a type in READ_TYPES, `metadata`, or HAPI paging on the base.
 */
export function parseProxyTarget (rawUrl: string, routePrefix: string): ProxyTarget {
  if (!rawUrl.startsWith(routePrefix)) throw new ProxyPathError('the URL does not start with the proxy prefix')
  const rest = rawUrl.slice(routePrefix.length)
  const mark = rest.indexOf('?')
  const pathPart = mark === -1 ? rest : rest.slice(0, mark)
  const query = mark === -1 ? '' : rest.slice(mark + 1)
  const slash = pathPart.indexOf('/')
  const connectionId = slash === -1 ? pathPart : pathPart.slice(0, slash)
  if (!CONNECTION_ID_RE.test(connectionId)) throw new ProxyPathError('the connection id is malformed')
  const path = slash === -1 ? '' : pathPart.slice(slash + 1)
  if (path.length > MAX_PROXY_PATH_LENGTH) throw new ProxyPathError(`the path is longer than ${MAX_PROXY_PATH_LENGTH} characters`)
  if (query.length > MAX_PROXY_QUERY_LENGTH) throw new ProxyPathError(`the query is longer than ${MAX_PROXY_QUERY_LENGTH} characters`)
  checkPath(path, query)
  checkQuery(query)
  return { connectionId, path, query }
}

function checkPath (path: string, query: string): void {
  if (path === '') {
    if (BASE_PAGING_RE.test(query)) return
    throw new ProxyPathError('name a resource type')
  }
  if (path === 'metadata') return
  // Dot segments are refused outright, though an id may hold dots: no `..` anywhere.
  if (path.includes('..')) throw new ProxyPathError('dot segments are not allowed')
  const match = PATH_RE.exec(path)
  if (match === null) throw new ProxyPathError('only letters, digits, - and . in ids, one / between parts, nothing encoded')
  const [, type = '', id, version] = match
  if (!isReadType(type)) throw new ProxyPathError(`${type} is not a resource type the proxy reads`)
  for (const part of [id, version]) {
    if (part !== undefined && /^\.+$/.test(part)) throw new ProxyPathError('dot segments are not allowed')
  }
}

function checkQuery (query: string): void {
  if (query === '') return
  if (!QUERY_RE.test(query)) throw new ProxyPathError('the query holds a character that must be percent-encoded')
  if (BAD_PERCENT_RE.test(query)) throw new ProxyPathError('the query holds a malformed percent escape')
  if (ENCODED_CONTROL_RE.test(query)) throw new ProxyPathError('the query holds an encoded control character')
}

/** `{base}/{path}?{query}` as a string; `{base}?{query}` for paging on the base. */
export function upstreamHref (baseUrl: string, target: ProxyTarget): string {
  const base = stripTrailingSlash(baseUrl)
  const path = target.path === '' ? '' : `/${target.path}`
  return `${base}${path}${target.query === '' ? '' : `?${target.query}`}`
}
