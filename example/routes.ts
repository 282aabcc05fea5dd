import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, LightMyRequestResponse } from 'fastify'
import { renderMessagePage, renderRecordsPage } from './records-page.js'
import { renderStatusPage } from './status-page.js'
import type { ConnectionView, PageNotices, TenantView } from './view-types.js'

export interface ExampleRoutesOptions {
  /** The plugin's route prefix (`/healow`). Not `prefix`: Fastify would mount these routes under it. */
  pluginPrefix: string
  /** The host's public origin, for the same-origin check on form posts. */
  publicUrl: string
  /** In sandbox mode: the local practice, the only one its client can connect to. */
  sandboxTenant?: { id: string, name: string }
}

const ID_RE = /^[A-Za-z0-9_-]{1,128}$/
const SEARCH_LIMIT = 10

/** Health data: never cached, never framed; the one inline script runs by nonce. */
function htmlHeaders (nonce?: string): Record<string, string> {
  const script = nonce !== undefined ? `script-src 'nonce-${nonce}'` : "script-src 'none'"
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; ${script}; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`
  }
}

function parseJson<T> (res: LightMyRequestResponse): T | undefined {
  try { return JSON.parse(res.body) as T } catch { return undefined }
}

function firstString (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/**
 * The example host's pages. They hold no state of their own: each one asks
 * the plugin's JSON routes in process (`inject`), forwarding the browser's
 * cookie so the plugin sees the same device user, and passes the plugin's
 * Set-Cookie back.
 */
export async function exampleRoutes (app: FastifyInstance, options: ExampleRoutesOptions): Promise<void> {
  const { pluginPrefix: prefix, sandboxTenant } = options
  const sandbox = sandboxTenant !== undefined
  const publicOrigin = new URL(options.publicUrl).origin

  // Our forms carry no fields (the connection id is in the path); accept the browser's empty form body.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))))
  })

  async function ask (request: FastifyRequest, reply: FastifyReply, method: 'GET' | 'POST' | 'DELETE', url: string): Promise<LightMyRequestResponse> {
    const cookie = request.headers.cookie
    const res = await app.inject({ method, url, headers: cookie !== undefined ? { cookie } : {} })
    const setCookie = res.headers['set-cookie']
    if (setCookie !== undefined) reply.header('set-cookie', setCookie)
    return res
  }

  function sendPage (reply: FastifyReply, status: number, page: string, nonce?: string): FastifyReply {
    return reply.code(status).headers(htmlHeaders(nonce)).send(page)
  }

  /** Cross-site form posts carry no SameSite=Lax cookie anyway; refusing a foreign Origin is a second lock. */
  function foreignOrigin (request: FastifyRequest): boolean {
    const origin = request.headers.origin
    if (origin === undefined) return false
    return origin !== publicOrigin && origin !== `${request.protocol}://${request.host}`
  }

  app.get('/', async (request, reply) => {
    const query = request.query as Record<string, unknown>
    const q = (firstString(query.q) ?? '').trim().slice(0, 200)
    const notices: PageNotices = {
      connectedId: firstString(query.connection),
      errorCode: firstString(query.healow_error)?.slice(0, 64),
      sync: firstString(query.sync),
      retryAfterS: Number(firstString(query.retry) ?? '') || undefined,
      removed: query.removed === '1'
    }
    const [connectionsRes, tenantsRes] = await Promise.all([
      ask(request, reply, 'GET', `${prefix}/connections`),
      q !== '' ? app.inject({ method: 'GET', url: `${prefix}/tenants?${new URLSearchParams({ q, limit: String(SEARCH_LIMIT) }).toString()}` }) : undefined
    ])
    let connections: ConnectionView[] = []
    if (connectionsRes.statusCode === 200) {
      connections = parseJson<{ connections: ConnectionView[] }>(connectionsRes)?.connections ?? []
    } else {
      notices.loadError = 'Your connections could not be loaded right now (is Redis running?). Try again in a moment.'
    }
    const results = tenantsRes === undefined ? undefined : parseJson<{ tenants: TenantView[] }>(tenantsRes)?.tenants ?? []
    const nonce = randomBytes(16).toString('base64')
    const page = renderStatusPage({
      q, results, connections, notices, prefix, nonce, sandboxTenantId: sandboxTenant?.id, sandboxName: sandboxTenant?.name
    })
    // The page has a script only when it shows connections; otherwise no script may run at all.
    return sendPage(reply, 200, page, connections.length > 0 ? nonce : undefined)
  })

  app.get('/connections/:id/records', async (request, reply) => {
    const { id } = request.params as { id: string }
    if (!ID_RE.test(id)) return sendPage(reply, 404, renderMessagePage('Not found', 'There is no such connection.', sandbox))
    const search = new URLSearchParams(request.raw.url?.split('?')[1] ?? '')
    const type = search.get('type') ?? ''
    if (!/^[A-Za-z]{1,64}$/.test(type)) return sendPage(reply, 400, renderMessagePage('Choose a record type', 'Add ?type= with a FHIR resource type, like Condition.', sandbox))
    const statusRes = await ask(request, reply, 'GET', `${prefix}/connections/${id}`)
    const connection = statusRes.statusCode === 200 ? parseJson<ConnectionView>(statusRes) : undefined
    if (connection === undefined) return sendPage(reply, 404, renderMessagePage('Not found', 'There is no such connection.', sandbox))
    const recordsRes = await ask(request, reply, 'GET', `${prefix}/connections/${id}/resources?${search.toString()}`)
    const bundle = recordsRes.statusCode === 200
      ? parseJson<{ entry?: Array<{ resource?: Record<string, unknown> }>, link?: Array<{ relation?: string, url?: string }> }>(recordsRes)
      : undefined
    if (bundle === undefined) {
      const message = parseJson<{ message?: string }>(recordsRes)?.message ?? 'The records could not be loaded.'
      return sendPage(reply, recordsRes.statusCode >= 500 ? 502 : 400, renderMessagePage('Records unavailable', message, sandbox))
    }
    const resources = (bundle.entry ?? []).flatMap((e) => (e.resource !== undefined ? [e.resource] : []))
    const next = bundle.link?.find((l) => l.relation === 'next')?.url
    // The next link's query (type and cursor, whatever the plugin names it) becomes this page's query.
    const nextQuery = next !== undefined ? new URL(next, 'http://link.invalid').searchParams.toString() : undefined
    return sendPage(reply, 200, renderRecordsPage({ connection, type, resources, nextQuery, sandbox }))
  })

  app.post('/connections/:id/sync', async (request, reply) => {
    const { id } = request.params as { id: string }
    if (!ID_RE.test(id) || foreignOrigin(request)) return await reply.redirect('/', 303)
    const res = await ask(request, reply, 'POST', `${prefix}/connections/${id}/sync`)
    const anchor = `#conn-${id}`
    if (res.statusCode === 202 || res.statusCode === 200) return await reply.redirect(`/?sync=queued${anchor}`, 303)
    if (res.statusCode === 429) {
      const retry = Number(res.headers['retry-after'] ?? '') || 60
      return await reply.redirect(`/?sync=too_soon&retry=${retry}${anchor}`, 303)
    }
    if (res.statusCode === 409) return await reply.redirect(`/?sync=reauth${anchor}`, 303)
    if (res.statusCode === 404 && parseJson<{ code?: string }>(res)?.code === 'HEALOW_ERR_NOT_FOUND') return await reply.redirect('/', 303)
    request.log.warn({ connectionId: id, statusCode: res.statusCode }, 'manual sync was not accepted')
    return await reply.redirect(`/?sync=failed${anchor}`, 303)
  })

  app.post('/connections/:id/disconnect', async (request, reply) => {
    const { id } = request.params as { id: string }
    if (!ID_RE.test(id) || foreignOrigin(request)) return await reply.redirect('/', 303)
    const res = await ask(request, reply, 'DELETE', `${prefix}/connections/${id}`)
    return await reply.redirect(res.statusCode === 204 ? '/?removed=1' : '/', 303)
  })
}
