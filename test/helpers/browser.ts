import { request } from 'undici'

export interface BrowserResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  location: string | undefined
  body: string
}

/**
 * A plain HTTP client that keeps cookies per origin like a browser would
 * (name=value only; enough for our HttpOnly, path-scoped cookies in tests).
 */
export class Browser {
  readonly cookies = new Map<string, Map<string, string>>()

  async get (url: string, headers: Record<string, string> = {}): Promise<BrowserResponse> {
    return await this.send('GET', url, undefined, headers)
  }

  async post (url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<BrowserResponse> {
    return await this.send('POST', url, new URLSearchParams(form).toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers })
  }

  async send (method: 'GET' | 'POST' | 'DELETE', url: string, body: string | undefined, headers: Record<string, string> = {}): Promise<BrowserResponse> {
    const target = new URL(url)
    const jar = this.cookies.get(target.origin)
    const cookie = jar !== undefined && jar.size > 0 ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : undefined
    const res = await request(target, { method, body, headers: { ...headers, ...(cookie !== undefined ? { cookie } : {}) } })
    this.store(target.origin, res.headers['set-cookie'])
    const text = await res.body.text()
    const location = typeof res.headers.location === 'string' ? new URL(res.headers.location, target).href : undefined
    return { status: res.statusCode, headers: res.headers, location, body: text }
  }

  /** Follows redirects across origins until a non-redirect or `stopAt` (a URL prefix) is reached. */
  async follow (url: string, stopAt?: string, max = 10): Promise<{ response: BrowserResponse, url: string }> {
    let current = url
    for (let i = 0; i < max; i++) {
      const response = await this.get(current)
      if (response.location === undefined || response.status < 300 || response.status >= 400) return { response, url: current }
      if (stopAt !== undefined && response.location.startsWith(stopAt)) return { response, url: current }
      current = response.location
    }
    throw new Error('too many redirects')
  }

  private store (origin: string, setCookie: string | string[] | undefined): void {
    const values = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]
    const jar = this.cookies.get(origin) ?? new Map<string, string>()
    for (const line of values) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name)
      else jar.set(name, value)
    }
    this.cookies.set(origin, jar)
  }
}
