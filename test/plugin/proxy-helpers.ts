import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect as netConnect } from 'node:net'
import type { Test } from 'tap'
import type { Connection } from '../../core/connections.js'
import type { Tenant } from '../../core/directory.js'
import type { TokenSet } from '../../core/oauth.js'
import { build, type BuildOptions, type TestApp } from '../helpers/build.js'

/** The header our tests' `getUserId` reads: who is asking. */
export const USER_HEADER = 'x-test-user'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * One request written byte for byte on a socket: no client library between
 * the test and the server, so nothing normalises, encodes or refuses the
 * request target on the way.
 */
export async function rawRequest (origin: string, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  const { hostname, port } = new URL(origin)
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  const data = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = netConnect(Number(port), hostname, () => { socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8')) })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => { resolve(Buffer.concat(chunks)) })
  })
  return parseResponse(data)
}

function parseResponse (data: Buffer): RawResponse {
  const split = data.indexOf('\r\n\r\n')
  const head = data.toString('latin1', 0, split === -1 ? data.length : split).split('\r\n')
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0)
  const headers: Record<string, string> = {}
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim().toLowerCase()
    headers[name] = headers[name] === undefined ? line.slice(colon + 1).trim() : `${headers[name]}, ${line.slice(colon + 1).trim()}`
  }
  let body = split === -1 ? Buffer.alloc(0) : data.subarray(split + 4)
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body)
  return { status, headers, body: body.toString('utf8') }
}

function unchunk (data: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const end = data.indexOf('\r\n', at)
    if (end === -1) break
    const size = parseInt(data.toString('latin1', at, end), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(data.subarray(end + 2, end + 2 + size))
    at = end + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** A host whose users are named by the {@link USER_HEADER} request header. */
export async function buildProxyHost (t: Test, options: BuildOptions = {}): Promise<TestApp> {
  return await build(t, {
    ...options,
    plugin: {
      getUserId: (request) => {
        const user = request.headers[USER_HEADER]
        return typeof user === 'string' ? user : undefined
      },
      ...options.plugin
    }
  })
}

/** A connection for `userId` to `tenant` (the sandbox by default), with tokens the sandbox issued: no browser dance. */
export async function addConnection (ctx: TestApp, userId: string, options: { tenant?: Tenant, tokens?: Partial<TokenSet> } = {}): Promise<Connection> {
  const issued = await ctx.sandbox.issueTokens()
  const now = Date.now()
  const tokens: TokenSet = {
    accessToken: issued.access_token,
    refreshToken: issued.refresh_token,
    expiresAt: now + issued.expires_in * 1000,
    obtainedAt: now,
    scope: issued.scope,
    patientId: issued.patient,
    ...options.tokens
  }
  const { connection } = await ctx.app.healow.connections.upsert({
    userId, tenant: options.tenant ?? ctx.tenant, patientId: issued.patient, mode: 'confidential', tokens
  })
  return connection
}

/** GET through the proxy as `userId`, the FHIR path given as sent (raw). */
export async function proxyGet (ctx: TestApp, userId: string, connectionId: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return await rawRequest(ctx.origin, `/healow/proxy/${connectionId}/${path}`, { [USER_HEADER]: userId, ...headers })
}

export interface SeenRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
}

export interface EchoPractice {
  origin: string
  tenant: Tenant
  seen: SeenRequest[]
  /** What the practice answers; by default a small Patient with headers a proxy must not pass on. */
  respond: (req: IncomingMessage, res: ServerResponse) => void
}

/** A practice that records every request's headers (the sandbox logs only whether a credential came). */
export async function startEchoPractice (t: Test): Promise<EchoPractice> {
  const echo: EchoPractice = {
    origin: '',
    tenant: { id: 'ECHO01', name: 'Echo Practice', url: '', authorize: '', token: '' },
    seen: [],
    respond: (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json+fhir;charset=UTF-8',
        etag: 'W/"3"',
        'last-modified': 'Thu, 21 Nov 2024 06:00:01 GMT',
        'set-cookie': 'practice_session=abc; Path=/',
        server: 'practice-server/1.0',
        'x-powered-by': 'HAPI FHIR 5.4.0 REST Server',
        'content-location': '/r4/*/ECHO01/Patient/p1',
        'x-request-id': 'HOZMwHW18SOgKlY0',
        'access-control-allow-origin': '*',
        'strict-transport-security': 'max-age=1'
      })
      res.end(JSON.stringify({ resourceType: 'Patient', id: 'p1' }))
    }
  }
  const server = createServer((req, res) => {
    echo.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    echo.respond(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  echo.origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  echo.tenant = { ...echo.tenant, url: `${echo.origin}/fhir/r4/ECHO01`, authorize: `${echo.origin}/authorize`, token: `${echo.origin}/token` }
  return echo
}
