import { createHash, randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/index.js'

/** A sandbox for one test, closed when the test ends. */
export async function useSandbox (t: Test, options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = await startSandbox(options)
  t.teardown(async () => { await sandbox.close() })
  return sandbox
}

export function pkcePair (): { verifier: string, challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export const REDIRECT_URI = 'https://app.example.org/healow/callback'

export interface AuthorizeParams {
  clientId: string
  redirectUri?: string
  scope?: string
  state?: string
  nonce?: string
  challenge?: string
  aud?: string
  extra?: Record<string, string>
}

/** The authorize URL a client would send the browser to. */
export function authorizeUrl (sandbox: Sandbox, p: AuthorizeParams): string {
  const url = new URL(sandbox.authorizeUrl)
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: p.clientId,
    redirect_uri: p.redirectUri ?? REDIRECT_URI,
    scope: p.scope ?? 'openid fhirUser launch/patient offline_access patient/Patient.read patient/Observation.read',
    state: p.state ?? 'state-123',
    nonce: p.nonce,
    code_challenge: p.challenge ?? pkcePair().challenge,
    code_challenge_method: 'S256',
    aud: p.aud ?? sandbox.fhirBaseUrl,
    ...p.extra
  }
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v)
  return url.href
}

/** Reads the consent page's form token and patient buttons. */
export function parseConsent (html: string): { formToken: string, patients: Array<{ id: string, label: string }>, action: string } {
  const formToken = /name="request" value="([^"]+)"/.exec(html)?.[1] ?? ''
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1] ?? ''
  const patients = [...html.matchAll(/name="patient" value="([^"]+)">([^<]+)<\/button>/g)].map((m) => ({ id: m[1] ?? '', label: m[2] ?? '' }))
  return { formToken, patients, action }
}

/** Posts the consent form like a browser would; returns the redirect Location. */
export async function submitConsent (sandbox: Sandbox, fields: Record<string, string>): Promise<{ status: number, location: string }> {
  const res = await fetch(new URL('/oauth/oauth2/authorize/decision', sandbox.origin), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString()
  })
  await res.arrayBuffer()
  return { status: res.status, location: res.headers.get('location') ?? '' }
}

/** Authorize, consent as a patient (the first by default), return the callback URL's parameters. */
export async function signIn (sandbox: Sandbox, p: AuthorizeParams, patientId = sandbox.patientId): Promise<URLSearchParams> {
  const page = await fetch(authorizeUrl(sandbox, p), { redirect: 'manual' })
  const consent = parseConsent(await page.text())
  const { location } = await submitConsent(sandbox, { request: consent.formToken, patient: patientId })
  return new URL(location).searchParams
}

export async function postToken (sandbox: Sandbox, form: Record<string, string>, basic?: { id: string, secret: string }): Promise<{ status: number, body: Record<string, unknown>, headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (basic !== undefined) {
    headers.authorization = 'Basic ' + Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString('base64')
  }
  const res = await fetch(sandbox.tokenUrl, { method: 'POST', headers, body: new URLSearchParams(form).toString() })
  return { status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers }
}

export function basicOf (sandbox: Sandbox): { id: string, secret: string } {
  return { id: sandbox.clientId, secret: sandbox.clientSecret }
}

/** GET on the FHIR base with a bearer token. */
export async function fhirGet (sandbox: Sandbox, token: string | undefined, path: string): Promise<{ status: number, body: any, headers: Headers }> {
  const url = path.startsWith('http') ? path : sandbox.fhirBaseUrl + path
  const headers: Record<string, string> = { accept: 'application/json+fhir' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const res = await fetch(url, { headers })
  const text = await res.text()
  let body: unknown = text
  try { body = JSON.parse(text) } catch {}
  return { status: res.status, body, headers: res.headers }
}

/** Puts a foreign Bundle link's path and query on the sandbox origin (never follow it verbatim). */
export function rebase (link: string, sandbox: Sandbox): string {
  const url = new URL(link)
  return sandbox.origin + url.pathname + url.search
}

/** Follows next links to the end; returns every entry's resource and the next links seen. */
export async function pageAll (sandbox: Sandbox, token: string, first: string): Promise<{ resources: any[], nextLinks: string[], totals: number[] }> {
  const resources: any[] = []
  const nextLinks: string[] = []
  const totals: number[] = []
  let url: string | undefined = sandbox.fhirBaseUrl + first
  while (url !== undefined) {
    const { status, body } = await fhirGet(sandbox, token, url)
    if (status !== 200) throw new Error(`${url} answered ${status}`)
    totals.push(body.total)
    for (const entry of body.entry ?? []) resources.push(entry.resource)
    const next = (body.link as Array<{ relation: string, url: string }>).find((l) => l.relation === 'next')?.url
    if (next !== undefined) nextLinks.push(next)
    url = next === undefined ? undefined : rebase(next, sandbox)
    if (nextLinks.length > 10_000) throw new Error('runaway paging')
  }
  return { resources, nextLinks, totals }
}
