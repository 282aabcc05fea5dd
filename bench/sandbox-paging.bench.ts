/**
 * Pages a patient's whole record through the sandbox over HTTP (every search
 * of the Healow-safe plan, `_count=200`, next links rebased) and samples the
 * sandbox process's RSS. A 200k-resource record against a 2k baseline, each
 * in its own child process: records are generated lazily, so the peak RSS
 * must not grow with the record.
 *
 *   npx tsx bench/sandbox-paging.bench.ts
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { buildSearchPlan } from '../core/search-plan.js'
import { searchUrl } from '../core/fhir-paging.js'
import { SEARCHED_TYPES } from '../core/resource-types.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const LARGE = 200_000
const BASELINE = 2_000
const PAGE = 200
const SAMPLE_MS = 20
/** Above this peak-RSS ratio the sandbox is not flat: the bench fails. */
const MAX_FLAT_RATIO = 1.5

interface Started { child: ChildProcess, info: Record<string, string> }

async function startChild (size: number): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', '--patients', '1', '--size', String(size), '--rate-limit', '0', '--auto-approve', '--seed', 'bench'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore']
  })
  const [line] = await once(createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> }), 'line') as [string]
  return { child, info: JSON.parse(line) as Record<string, string> }
}

/** Resident set size of a process in bytes (Linux /proc; 0 elsewhere). */
function rssOf (pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? 0 : Number(match[1]) * 1024
  } catch {
    return 0
  }
}

/** The browserless OAuth dance (auto-approve) for an access token. */
async function accessToken (info: Record<string, string>): Promise<string> {
  const verifier = randomBytes(32).toString('base64url')
  const url = new URL(info.authorizeUrl ?? '')
  const params = {
    response_type: 'code', client_id: info.clientId ?? '', redirect_uri: 'https://bench.example/cb',
    state: 'bench', aud: info.fhirBaseUrl ?? '', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256'
  }
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  url.searchParams.set('scope', ['launch/patient', ...SEARCHED_TYPES.map((t) => `patient/${t}.read`)].join(' '))
  const auth = await fetch(url, { redirect: 'manual' })
  const code = new URL(auth.headers.get('location') ?? '').searchParams.get('code') ?? ''
  const res = await fetch(info.tokenUrl ?? '', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${info.clientId ?? ''}:${info.clientSecret ?? ''}`).toString('base64') },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'https://bench.example/cb', code_verifier: verifier }).toString()
  })
  return ((await res.json()) as { access_token: string }).access_token
}

/** The worker's own plan minus `Patient?_id=` (read once before sampling), as paths and queries under the FHIR base. */
function plan (fhirBaseUrl: string, patient: string): string[] {
  return buildSearchPlan(patient, { count: PAGE })
    .filter((search) => search.type !== 'Patient')
    .map((search) => {
      const url = searchUrl(fhirBaseUrl, search)
      return url.pathname + url.search
    })
}

interface Run { size: number, resources: number, pages: number, seconds: number, rssStart: number, rssPeak: number }

async function runOnce (size: number): Promise<Run> {
  const { child, info } = await startChild(size)
  const base = new URL(info.fhirBaseUrl ?? '')
  const pool = new Pool(base.origin, { connections: 4 })
  try {
    const token = await accessToken(info)
    const get = async (pathAndQuery: string): Promise<any> => {
      const res = await pool.request({ method: 'GET', path: pathAndQuery, headers: { authorization: `Bearer ${token}`, accept: 'application/json+fhir' } })
      if (res.statusCode !== 200) throw new Error(`${pathAndQuery} answered ${res.statusCode}`)
      return await res.body.json()
    }
    await get(`${base.pathname}/Patient/${info.patientId ?? ''}`)
    const rssStart = rssOf(child.pid ?? 0)
    let rssPeak = rssStart
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, rssOf(child.pid ?? 0)) }, SAMPLE_MS)
    const started = performance.now()
    let resources = 0
    let pages = 0
    // Four searches at a time, like a worker with some concurrency.
    const queue = plan(info.fhirBaseUrl ?? '', info.patientId ?? '')
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let search = queue.shift(); search !== undefined; search = queue.shift()) {
        let next: string | undefined = search
        while (next !== undefined) {
          const bundle = await get(next)
          pages++
          resources += (bundle.entry ?? []).length
          const link = (bundle.link as Array<{ relation: string, url: string }>).find((l) => l.relation === 'next')?.url
          // Healow links name a foreign origin: keep only the path and query.
          next = link === undefined ? undefined : new URL(link).pathname + new URL(link).search
        }
      }
    }))
    clearInterval(sampler)
    rssPeak = Math.max(rssPeak, rssOf(child.pid ?? 0))
    return { size, resources, pages, seconds: (performance.now() - started) / 1000, rssStart, rssPeak }
  } finally {
    await pool.close()
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  }
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)

const baseline = await runOnce(BASELINE)
const large = await runOnce(LARGE)
for (const run of [baseline, large]) {
  if (run.resources !== run.size) throw new Error(`paged ${run.resources} of ${run.size} resources`)
}
const rows = [baseline, large].map((r) => [
  `${r.size / 1000}k`, String(r.resources), String(r.pages), r.seconds.toFixed(1), (r.resources / r.seconds).toFixed(0), mb(r.rssStart), mb(r.rssPeak)
])
const header = ['record', 'resources', 'pages', 'seconds', 'res/s', 'rss start MB', 'rss peak MB']
console.log('sandbox paging: whole Healow plan over HTTP, _count=200, sandbox in a child process')
for (const row of [header, ...rows]) console.log(row.map((c, i) => i === 0 ? c.padEnd(8) : c.padStart(13)).join(''))
const ratio = large.rssPeak / baseline.rssPeak
console.log(`ratio 200k/2k: resources ${(large.resources / baseline.resources).toFixed(0)}x, peak RSS ${ratio.toFixed(2)}x (flat if <= ${MAX_FLAT_RATIO})`)
if (ratio > MAX_FLAT_RATIO || baseline.rssPeak === 0) process.exitCode = 1
