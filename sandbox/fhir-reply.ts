import { randomBytes } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import { escapeHtml } from './gen-context.js'
import type { FaultKind } from './traffic.js'

/** eCW answers with this exact media type (recording). */
export const FHIR_JSON = 'application/json+fhir;charset=UTF-8'
const POWERED_BY = 'FHIR Server (FHIR 4.0.1/R4)'

/** An OperationOutcome shaped like eCW's: a generated narrative plus one issue. */
export function operationOutcome (diagnostics: string, code = 'processing'): Record<string, unknown> {
  return {
    resourceType: 'OperationOutcome',
    text: {
      status: 'generated',
      div: `<div xmlns="http://www.w3.org/1999/xhtml"><h1>Operation Outcome</h1><table border="0"><tr><td style="font-weight: bold;">ERROR</td><td>[]</td><td><pre>${escapeHtml(diagnostics)}</pre></td>\r\n\t\t\t\t\t\r\n\t\t\t\t\r\n\t\t\t</tr>\r\n\t\t</table>\r\n\t</div>`
    },
    issue: [{ severity: 'error', code, diagnostics }]
  }
}

/** The headers every eCW FHIR response carries (recording): type, request id, server banner. */
export function fhirHeaders (lastModifiedMs?: number): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': FHIR_JSON,
    'x-request-id': randomBytes(12).toString('base64url').slice(0, 16),
    'x-powered-by': POWERED_BY
  }
  if (lastModifiedMs !== undefined) headers['last-modified'] = new Date(lastModifiedMs).toUTCString()
  return headers
}

/**
 * Sends a FHIR JSON body, or breaks it on purpose: `stall` sends the headers
 * and half the body and then nothing more; `malformed` sends a truncated body
 * that is complete at the HTTP level.
 */
export function sendFhir (reply: FastifyReply, status: number, body: unknown, options: { lastModifiedMs?: number, fault?: FaultKind, headers?: Record<string, string> } = {}): FastifyReply {
  const text = JSON.stringify(body)
  const headers = { ...fhirHeaders(options.lastModifiedMs), ...options.headers }
  if (options.fault === 'stall') {
    reply.hijack()
    const raw = reply.raw
    const bytes = Buffer.from(text)
    raw.writeHead(status, { ...headers, 'content-length': String(bytes.length) })
    raw.write(bytes.subarray(0, Math.floor(bytes.length / 2)))
    return reply
  }
  const payload = options.fault === 'malformed' ? text.slice(0, Math.max(1, Math.floor(text.length / 2))) + '\u0000<' : text
  return reply.code(status).headers(headers).send(payload)
}

/** An OperationOutcome response. */
export function sendOutcome (reply: FastifyReply, status: number, diagnostics: string, code?: string, headers?: Record<string, string>): FastifyReply {
  return sendFhir(reply, status, operationOutcome(diagnostics, code), headers === undefined ? {} : { headers })
}
