import type { Connection } from '../core/connections.js'
import type { FhirClient, FhirRequestContext } from '../core/fhir-client.js'
import type { RecordStore } from '../core/record-store.js'
import type { SyncFailure } from '../core/sync-status.js'

interface AttachmentDeps {
  fhir: FhirClient
  records: RecordStore
  maxAttachmentBytes: number
  ctx: FhirRequestContext
  connection: Connection
  documents: ReadonlyArray<Record<string, unknown>>
}

/** `Binary/<id>` references among a DocumentReference's attachments (FHIR R4 DocumentReference.content.attachment.url). */
export function attachmentUrls (document: Record<string, unknown>): string[] {
  const content = Array.isArray(document.content) ? document.content as Array<{ attachment?: { url?: unknown } }> : []
  return content.map((c) => c.attachment?.url).filter((u): u is string => typeof u === 'string' && /(^|\/)Binary\/[A-Za-z0-9\-.]{1,64}$/.test(u))
}

/**
 * Fetches the Binary resources a page of DocumentReferences points at, once
 * each (a Binary never changes under its id), under a size cap.
 */
export async function fetchAttachments (deps: AttachmentDeps): Promise<{ stored: number, failures: SyncFailure[] }> {
  const { fhir, records, ctx, connection } = deps
  const failures: SyncFailure[] = []
  let stored = 0
  for (const document of deps.documents) {
    for (const ref of attachmentUrls(document)) {
      const id = ref.slice(ref.lastIndexOf('/') + 1)
      // Existence only: opening a stored Binary would decrypt and parse up to the attachment cap for nothing.
      if (await records.has(connection.id, 'Binary', id)) continue
      const url = ref.includes('://') ? ref : `${ctx.baseUrl}/${ref}`
      try {
        const result = await fhir.getBinary(ctx, url, deps.maxAttachmentBytes)
        if ('tooLarge' in result) {
          failures.push({ search: `Binary/${id}`, reason: `attachment larger than the ${deps.maxAttachmentBytes}-byte cap` })
          continue
        }
        const binary = { resourceType: 'Binary', id, contentType: result.contentType, data: result.data.toString('base64') }
        await records.upsertPage(connection.id, [binary])
        stored++
      } catch (err) {
        if ((err as { code?: string }).code === 'HEALOW_ERR_REAUTH_REQUIRED') throw err
        const e = err as { code?: string, status?: number, message?: string }
        failures.push({ search: `Binary/${id}`, status: e.status, reason: `${e.code ?? 'HEALOW_ERR_UPSTREAM'}: ${(e.message ?? 'failed').slice(0, 200)}` })
      }
    }
  }
  return { stored, failures }
}
