/**
 * `npm run tenants:update -- <url-or-file> [--out <file>]`
 *
 * Rebuilds the shipped practice directory (`core/data/healow-directory.json`)
 * from the published Healow directory Bundle (Endpoint + Organization pairs),
 * read from a local file or an https URL, in the compact committed form.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { fetch, type Dispatcher } from 'undici'
import { DEFAULT_DIRECTORY_FILE, formatCompactDirectory, parseDirectory } from '../core/directory.js'

/** The published directory is ~5 MB for ~7k practices; refuse anything absurd. */
const MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024
const USAGE = 'usage: npm run tenants:update -- <https-url-or-file> [--out <file>]'

export interface UpdateResult { kept: number, skipped: number, inactive: number, out: string }

async function readSource (source: string, dispatcher: Dispatcher | undefined, maxBytes: number): Promise<string> {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return await readFile(source, 'utf8')
  const url = new URL(source)
  if (url.protocol !== 'https:') throw new Error(`${source}: only https:// URLs are fetched`)
  const where = describeSource(source)
  const response = await fetch(url, {
    headers: { accept: 'application/fhir+json, application/json+fhir, application/json' },
    ...(dispatcher === undefined ? {} : { dispatcher })
  })
  if (!response.ok || response.body === null) {
    await response.body?.cancel()
    throw new Error(`${where}: HTTP ${response.status}`)
  }
  // Count bytes as they arrive: a wrong URL must not fill the memory.
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += chunk.byteLength
    if (size > maxBytes) throw new Error(`${where}: more than ${maxBytes} bytes, not a practice directory`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Where the data came from, without local paths or query strings. */
function describeSource (source: string): string {
  if (/^https:\/\//i.test(source)) {
    const url = new URL(source)
    return `${url.origin}${url.pathname}`
  }
  return basename(source)
}

/** Reads a directory Bundle, validates it, and writes the compact directory file. */
export async function updateDirectory (options: {
  source: string
  out?: string
  now?: Date
  /** An undici dispatcher for the download (tests trust their own certificate with it). */
  dispatcher?: Dispatcher
  maxBytes?: number
}): Promise<UpdateResult> {
  const out = resolve(options.out ?? DEFAULT_DIRECTORY_FILE)
  const text = await readSource(options.source, options.dispatcher, options.maxBytes ?? MAX_DOWNLOAD_BYTES)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new Error(`${describeSource(options.source)} is not JSON`, { cause: err })
  }
  const { tenants, skipped, inactive } = parseDirectory(json)
  if (tenants.length === 0) throw new Error(`${describeSource(options.source)} holds no valid practices: nothing written`)
  const body = formatCompactDirectory(tenants, {
    generated: (options.now ?? new Date()).toISOString(),
    source: describeSource(options.source)
  })
  // Write beside the target, then rename: a failed run never leaves half a file.
  const temp = `${out}.${process.pid}.tmp`
  await writeFile(temp, body)
  await rename(temp, out)
  return { kept: tenants.length, skipped, inactive, out }
}

interface Output { write: (text: string) => unknown }

/** The command line: returns the exit code (0 written, 1 failed, 2 usage). */
export async function runTenantsUpdate (argv: string[], io: { stdout: Output, stderr: Output } = process): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' } } })
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const [source] = parsed.positionals
  if (source === undefined || parsed.positionals.length > 1) {
    io.stderr.write(`${USAGE}\n`)
    return 2
  }
  try {
    const result = await updateDirectory({ source, out: parsed.values.out })
    io.stdout.write(`wrote ${result.out}: kept ${result.kept}, skipped ${result.skipped} malformed, ${result.inactive} inactive\n`)
    return 0
  } catch (err) {
    io.stderr.write(`tenants:update failed: ${(err as Error).message}\n`)
    return 1
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await runTenantsUpdate(process.argv.slice(2))
}
