import t from 'tap'
import { fhirGet, useSandbox } from './helpers.js'

t.test('DocumentReference attachments point at Binary on the FHIR base; sizes are exact', async (t) => {
  const sandbox = await useSandbox(t)
  const { access_token: token } = await sandbox.issueTokens()
  const docs = (await fhirGet(sandbox, token, `/DocumentReference?patient=${sandbox.patientId}`)).body.entry.map((e: { resource: any }) => e.resource)
  t.equal(docs.length, 5)
  const types = new Set<string>()
  for (const doc of docs) {
    const attachment = doc.content[0].attachment
    t.match(attachment.url, new RegExp(`^${sandbox.fhirBaseUrl}/Binary/`))
    const res = await fetch(attachment.url, { headers: { authorization: `Bearer ${token}` } })
    t.equal(res.status, 200)
    t.equal(res.headers.get('content-type'), attachment.contentType)
    const bytes = Buffer.from(await res.arrayBuffer())
    t.equal(bytes.length, attachment.size)
    if (attachment.contentType === 'application/pdf') t.equal(bytes.subarray(0, 8).toString(), '%PDF-1.4')
    types.add(attachment.contentType)
  }
  t.same([...types].sort(), ['application/pdf', 'text/plain'])

  const url = docs[0].content[0].attachment.url as string
  const asFhir = await fhirGet(sandbox, token, url)
  t.equal(asFhir.body.resourceType, 'Binary')
  t.equal(Buffer.from(asFhir.body.data, 'base64').length, docs[0].content[0].attachment.size)

  const otherToken = (await sandbox.issueTokens({ patientId: sandbox.patients[1]?.id })).access_token
  t.equal((await fetch(url, { headers: { authorization: `Bearer ${otherToken}` } })).status, 403)
  t.equal((await fetch(url.replace(/\.[0-9a-z]+$/, '.zz'), { headers: { authorization: `Bearer ${token}` } })).status, 404)
})

t.test('largeAttachments makes every nth attachment large, streamed at its declared size', async (t) => {
  const sandbox = await useSandbox(t, { largeAttachments: { every: 2, bytes: 3_000_000 } })
  const { access_token: token } = await sandbox.issueTokens({ scope: 'patient/DocumentReference.read' })
  const docs = (await fhirGet(sandbox, token, `/DocumentReference?patient=${sandbox.patientId}`)).body.entry.map((e: { resource: any }) => e.resource)
  t.same(docs.map((d: any) => d.content[0].attachment.size > 1_000_000), [false, true, false, true, false])
  const large = docs[1].content[0].attachment
  const res = await fetch(large.url, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.headers.get('content-length'), '3000000')
  const bytes = Buffer.from(await res.arrayBuffer())
  t.equal(bytes.length, 3_000_000)
  t.equal(bytes.subarray(0, 20).toString(), 'Clinical document 2\n')
})
