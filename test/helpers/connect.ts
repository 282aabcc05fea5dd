import type { TestApp } from './build.js'
import { Browser, type BrowserResponse } from './browser.js'

export interface ConnectResult {
  browser: Browser
  /** The host's final answer (a redirect to returnTo). */
  final: BrowserResponse
  connectionId: string | undefined
  /** The host's redirect to the practice's authorize URL. */
  authorizeUrl: URL
}

/** Drives the whole dance with a plain HTTP client against an auto-approving sandbox. */
export async function connect (ctx: TestApp, options: { browser?: Browser, returnTo?: string } = {}): Promise<ConnectResult> {
  const browser = options.browser ?? new Browser()
  const start = await browser.get(`${ctx.origin}/healow/authorize?tenant=${ctx.tenant.id}&returnTo=${encodeURIComponent(options.returnTo ?? '/done')}`)
  if (start.status !== 302 || start.location === undefined) throw new Error(`authorize answered ${start.status}: ${start.body}`)
  const authorizeUrl = new URL(start.location)
  const atPractice = await browser.get(start.location)
  if (atPractice.location === undefined) throw new Error(`practice answered ${atPractice.status}`)
  const final = await browser.get(atPractice.location)
  const connectionId = final.location !== undefined ? new URL(final.location).searchParams.get('connection') ?? undefined : undefined
  return { browser, final, connectionId, authorizeUrl }
}
