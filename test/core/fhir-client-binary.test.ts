import { createServer } from 'node:http'
import t, { type Test } from 'tap'
import type { FhirClient, FhirRequestContext } from '../../core/fhir-client.js'
import type { Sandbox, SandboxOptions } from '../../sandbox/index.js'
import { useFhirClient, useSandboxContext, type SandboxContext } from '../helpers/fhir.js'

async function useClient (t: Test): Promise<FhirClient> {
  return (await useFhirClient(t, { baseDelayMs: 5 })).client
}

/** A 401 is answered with the same token (a refresh that changes nothing). */
async function useSandbox (t: Test, options: SandboxOptions): Promise<SandboxContext> {
  return await useSandboxContext(t, options, { onUnauthorized: async (token) => token })
}

interface Attachment { url: string, size: number, contentType: string }

async function attachments (client: FhirClient, sandbox: Sandbox, ctx: FhirRequestContext): Promise<Attachment[]> {
  const { body } = await client.getJson(ctx, `${sandbox.fhirBaseUrl}/DocumentReference?patient=${sandbox.patientId}&_count=50`)
  return (body as { entry: Array<{ resource: { content: Array<{ attachment: Attachment }> } }> }).entry.map((e) => e.resource.content[0]!.attachment)
}

t.test('attachments under the cap come back as bytes with their type', async (t) => {
  const { sandbox, ctx } = await useSandbox(t, {})
  const client = await useClient(t)
  const list = await attachments(client, sandbox, ctx)
  t.equal(list.length, 5)
  for (const [i, a] of list.entries()) {
    const result = await client.getBinary(ctx, a.url, 1_000_000)
    if ('tooLarge' in result) throw new Error('unexpected tooLarge')
    t.equal(result.contentType, a.contentType, `attachment ${i + 1}`)
    t.equal(result.data.length, a.size)
    t.equal(result.data.subarray(0, a.contentType === 'application/pdf' ? 8 : 20).toString('latin1'), a.contentType === 'application/pdf' ? '%PDF-1.4' : `Clinical document ${i + 1}\n`.slice(0, 20))
  }
  const exact = list[0]!
  t.notOk('tooLarge' in await client.getBinary(ctx, exact.url, exact.size), 'a body of exactly maxBytes is accepted')
  t.same(await client.getBinary(ctx, exact.url, exact.size - 1), { tooLarge: true, size: exact.size })
})

t.test('a 3 MB attachment with a 1 MB cap: tooLarge from Content-Length, and the connection stays usable', async (t) => {
  const { sandbox, ctx } = await useSandbox(t, { largeAttachments: { every: 1, bytes: 3_000_000 } })
  const client = await useClient(t)
  const [first] = await attachments(client, sandbox, ctx)
  t.equal(first?.size, 3_000_000)
  t.same(await client.getBinary(ctx, first!.url, 1_000_000), { tooLarge: true, size: 3_000_000 })
  const full = await client.getBinary(ctx, first!.url, 4_000_000)
  t.equal('data' in full ? full.data.length : -1, 3_000_000, 'under a larger cap the whole body arrives')
  t.equal(sandbox.counters().byStatus['200'], 3)
})

t.test('without Content-Length the bytes are counted and the download stops past the cap', async (t) => {
  const total = 64 * 1024 * 1024
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  let written = 0
  let closedEarly: (early: boolean) => void = () => {}
  const closed = new Promise<boolean>((resolve) => { closedEarly = resolve })
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' }) // chunked: no length announced
    res.on('close', () => { closedEarly(written < total) })
    const pump = (): void => {
      while (written < total && !res.destroyed) {
        written += chunk.length
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      if (written >= total) res.end()
    }
    pump()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/fhir/r4/LOCAL1`
  const client = await useClient(t)
  const ctx = { practiceId: 'LOCAL1', baseUrl: base, getAccessToken: async () => 't', onUnauthorized: async () => 't' }
  t.same(await client.getBinary(ctx, `${base}/Binary/big`, 1_000_000), { tooLarge: true })
  t.equal(await closed, true, 'the server was cut off')
  t.ok(written < total, `the server wrote ${written} of ${total} bytes`)
})
