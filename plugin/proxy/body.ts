import { Transform, type TransformCallback } from 'node:stream'
import createError from '@fastify/error'

/** The largest body the proxy passes on; the stream is cut past it. */
export const DEFAULT_MAX_PROXY_BODY_BYTES = 32 * 1024 * 1024
/**
 * How much of a Bundle's head is held while looking for its `link` array.
 * FHIR JSON writes elements in the order the specification defines them
 * (FHIR R4 JSON, "JSON representation of resources"), and Bundle.link comes
 * before Bundle.entry, so the links sit in the first few kilobytes.
 */
export const DEFAULT_MAX_HEAD_BYTES = 256 * 1024
/**
 * Bodies declared at most this long are read whole and sent with their exact
 * length; longer or undeclared ones stream. Equal to the head limit, so a
 * buffered Bundle's links are always within reach of the scanner.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = DEFAULT_MAX_HEAD_BYTES

export const ProxyBodyTooLargeError = createError<'HEALOW_ERR_PROXY_BODY_TOO_LARGE', 502, [number]>(
  'HEALOW_ERR_PROXY_BODY_TOO_LARGE', 'The practice answered with more than %d bytes', 502)

/** Maps one Bundle link URL to the one to hand out; undefined drops the link. */
export type LinkMapper = (url: string) => string | undefined

export interface ProxyBodyOptions {
  maxBytes?: number
  /** Set to rewrite the top-level `link` array of a JSON Bundle; unset passes bytes through. */
  mapLink?: LinkMapper
  maxHeadBytes?: number
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const COMMA = 0x2c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const LINK_KEY = Buffer.from('"link"', 'latin1')

function isSpace (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xef || c === 0xbb || c === 0xbf
}

/** Rewrites the `url` of each link object; entries whose URL cannot be mapped are dropped. */
function rewriteLinks (text: string, mapLink: LinkMapper): string | undefined {
  let links: unknown
  try { links = JSON.parse(text) } catch { return undefined }
  if (!Array.isArray(links)) return undefined
  const out: unknown[] = []
  for (const link of links) {
    if (typeof link !== 'object' || link === null || typeof (link as { url?: unknown }).url !== 'string') {
      out.push(link)
      continue
    }
    const mapped = mapLink((link as { url: string }).url)
    if (mapped !== undefined) out.push({ ...link, url: mapped })
  }
  return JSON.stringify(out)
}

/** Where a scanner hands out bytes it no longer holds. */
type Emit = (bytes: Buffer) => void

/** The head scanner behind both {@link createProxyBody} and {@link rewriteBundleLinks}. */
interface LinkScanner {
  /** False once the head is released: every later byte passes through as it is. */
  readonly scanning: boolean
  write (chunk: Buffer, emit: Emit): void
  end (emit: Emit): void
}

/**
 * A small byte scanner (JSON's structural characters are ASCII and never
 * appear inside a UTF-8 multi-byte sequence, so bytes are safe to scan) that
 * holds only the head of the document, up to the end of `link`, the `entry`
 * key, or `maxHeadBytes`, and then lets every later byte through untouched.
 */
function createLinkScanner (mapLink: LinkMapper, maxHeadBytes: number): LinkScanner {
  let scanning = true
  let head: Buffer = Buffer.alloc(0)
  // Scanner state, kept across chunks.
  let i = 0
  let depth = 0
  let inString = false
  let escaped = false
  let expectKey = false
  let keyStart = -1
  let key: string | undefined
  let currentKey: string | undefined
  let valueStart = -1
  let notBundle = false

  /** Releases the held head: its link value (start..end) replaced when it could be rewritten. */
  function release (emit: Emit, start = -1, end = -1): void {
    scanning = false
    if (start >= 0 && !notBundle) {
      const rewritten = rewriteLinks(head.toString('utf8', start, end), mapLink)
      if (rewritten !== undefined) {
        emit(head.subarray(0, start))
        emit(Buffer.from(rewritten, 'utf8'))
        emit(head.subarray(end))
        head = Buffer.alloc(0)
        return
      }
    }
    if (head.length > 0) emit(head)
    head = Buffer.alloc(0)
  }

  /** Ends the value of the current top-level key at `end` (a `,` or the closing `}`); true when the head was released. */
  function endValue (emit: Emit, end: number): boolean {
    const name = currentKey
    currentKey = undefined
    if (name === 'resourceType') {
      let value: unknown
      try { value = JSON.parse(head.toString('utf8', valueStart, end)) } catch {}
      if (value !== 'Bundle') notBundle = true
    }
    if (name === 'link') {
      release(emit, valueStart, end)
      return true
    }
    return false
  }

  /** Scans the held head from where it stopped; releases it once the decision is made. */
  function scan (emit: Emit): void {
    for (; i < head.length; i++) {
      const c = head[i] as number
      if (inString) {
        if (escaped) escaped = false
        else if (c === BACKSLASH) escaped = true
        else if (c === QUOTE) {
          inString = false
          if (keyStart >= 0) { key = head.toString('utf8', keyStart, i); keyStart = -1 }
        }
        continue
      }
      if (isSpace(c)) continue
      if (depth === 0) {
        // Not a JSON object, or one already closed: nothing to rewrite.
        if (c !== OPEN_BRACE) { release(emit); return }
        depth = 1
        expectKey = true
        continue
      }
      if (c === QUOTE) {
        inString = true
        if (depth === 1 && expectKey) { keyStart = i + 1; expectKey = false }
      } else if (c === COLON && depth === 1 && key !== undefined) {
        currentKey = key
        key = undefined
        valueStart = i + 1
        if (currentKey === 'entry' || notBundle) { release(emit); return }
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        depth++
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--
        if (depth === 0) {
          if (!endValue(emit, i)) release(emit)
          return
        }
      } else if (c === COMMA && depth === 1) {
        if (endValue(emit, i)) return
        expectKey = true
      }
    }
    if (head.length > maxHeadBytes) release(emit)
  }

  return {
    get scanning () { return scanning },
    write (chunk, emit) {
      if (!scanning) {
        emit(chunk)
        return
      }
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
      scan(emit)
    },
    end (emit) {
      if (scanning) release(emit)
    }
  }
}

/**
 * A whole JSON body held in memory, its top-level Bundle `link` array
 * rewritten as {@link createProxyBody} would; the same buffer when nothing
 * changes (any document that is not a Bundle leaves the scanner at its first
 * key, `resourceType`).
 */
export function rewriteBundleLinks (body: Buffer, mapLink: LinkMapper, maxHeadBytes = DEFAULT_MAX_HEAD_BYTES): Buffer {
  // The scanner compares key names as raw bytes, so without these bytes there is nothing it could rewrite.
  if (body.indexOf(LINK_KEY) === -1) return body
  const parts: Buffer[] = []
  const scanner = createLinkScanner(mapLink, maxHeadBytes)
  const emit: Emit = (bytes) => { if (bytes.length > 0) parts.push(bytes) }
  scanner.write(body, emit)
  scanner.end(emit)
  if (parts.length === 1 && parts[0] === body) return body
  return Buffer.concat(parts)
}

/**
 * The proxied body: counts bytes against a cap (the stream errors past it,
 * which cuts the response) and, for a JSON Bundle, rewrites its top-level
 * `link` array while streaming.
 *
 * Why hand-written: the JSON stream parsers we could use either hand out
 * parsed values (re-serialising every entry, and more memory) or only read;
 * none rewrites one value and leaves the other bytes alone. The scanner
 * holds only the head of the document and passes every later chunk through.
 */
export function createProxyBody (options: ProxyBodyOptions = {}): Transform {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PROXY_BODY_BYTES
  const scanner = options.mapLink === undefined ? undefined : createLinkScanner(options.mapLink, options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES)
  let total = 0

  return new Transform({
    transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      total += chunk.length
      if (total > maxBytes) {
        callback(new ProxyBodyTooLargeError(maxBytes))
        return
      }
      if (scanner === undefined || !scanner.scanning) {
        callback(null, chunk)
        return
      }
      scanner.write(chunk, (bytes) => this.push(bytes))
      callback()
    },
    flush (callback: TransformCallback) {
      scanner?.end((bytes) => this.push(bytes))
      callback()
    }
  })
}
