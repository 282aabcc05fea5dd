import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { createProxyBody, rewriteBundleLinks, type LinkMapper, type ProxyBodyOptions } from '../../plugin/proxy/body.js'

const FOREIGN = 'http://fhir4.eclinicalworks.com/fhir/r4/SANDBX'
const mapLink: LinkMapper = (url) => url.startsWith(FOREIGN) ? `https://app.example/healow/proxy/c1${url.slice(FOREIGN.length)}` : undefined

/** Runs `input` through the body transform in chunks of `size` bytes. */
async function run (input: string | Buffer, options: ProxyBodyOptions, size = 1 << 16): Promise<string> {
  const data = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8')
  const chunks: Buffer[] = []
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size))
  const out: Buffer[] = []
  await pipeline(Readable.from(chunks), createProxyBody(options), async function * (source) {
    for await (const chunk of source) out.push(chunk as Buffer)
  })
  return Buffer.concat(out).toString('utf8')
}

const bundle = {
  resourceType: 'Bundle',
  id: 'b "quoted" \\ "link": [1]',
  meta: { lastUpdated: '2024-11-23T14:33:42.000+00:00', tag: [{ code: '{[' }] },
  type: 'searchset',
  total: 3,
  link: [
    { relation: 'self', url: `${FOREIGN}/Observation?patient=p1&category=laboratory` },
    { relation: 'next', url: `${FOREIGN}/Observation?patient=p1&category=laboratory&_count=1&_offset=1` },
    { relation: 'previous', url: 'http://fhir4.eclinicalworks.com/fhir/r4/OTHER/Observation' }
  ],
  entry: [{ fullUrl: `${FOREIGN}/Observation/o1`, resource: { resourceType: 'Observation', id: 'o1', note: [{ text: 'say "link": ✓ ü' }] }, link: [{ relation: 'self', url: `${FOREIGN}/x` }] }]
}

t.test('rewrites the top-level link array of a Bundle, whatever the chunking', async (t) => {
  const text = JSON.stringify(bundle)
  const expected = {
    ...bundle,
    link: [
      { relation: 'self', url: 'https://app.example/healow/proxy/c1/Observation?patient=p1&category=laboratory' },
      { relation: 'next', url: 'https://app.example/healow/proxy/c1/Observation?patient=p1&category=laboratory&_count=1&_offset=1' }
    ]
  }
  for (const size of [1, 2, 3, 7, 64, 1 << 16]) {
    t.same(JSON.parse(await run(text, { mapLink }, size)), expected, `chunks of ${size} bytes`)
  }
  // Everything but the link array is byte for byte what the practice sent.
  const out = await run(text, { mapLink }, 5)
  const start = text.indexOf('"link":') + 7
  const end = text.indexOf(',"entry"')
  t.equal(out, text.slice(0, start) + JSON.stringify(expected.link) + text.slice(end))

  const pretty = JSON.stringify(bundle, null, 2)
  t.same(JSON.parse(await run(pretty, { mapLink }, 3)), expected, 'pretty-printed')
  const last = JSON.stringify({ resourceType: 'Bundle', link: bundle.link })
  t.same(JSON.parse(await run(last, { mapLink }, 4)), { resourceType: 'Bundle', link: expected.link }, 'link as the last key')
})

t.test('leaves everything else untouched', async (t) => {
  const cases: Array<[string, string]> = [
    ['link after entry (not FHIR order) is not held for', JSON.stringify({ resourceType: 'Bundle', entry: [], link: bundle.link })],
    ['a Patient has its own link element', JSON.stringify({ resourceType: 'Patient', id: 'p1', link: [{ other: { reference: 'Patient/p2' }, type: 'seealso', url: `${FOREIGN}/x` }] })],
    ['a top-level array', JSON.stringify([{ link: bundle.link }])],
    ['a bare string', JSON.stringify('"link":[]')],
    ['no link at all', JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 0 })],
    ['link is not an array', JSON.stringify({ resourceType: 'Bundle', link: { url: `${FOREIGN}/x` } })],
    ['truncated JSON', JSON.stringify(bundle).slice(0, 120)]
  ]
  for (const [name, text] of cases) t.equal(await run(text, { mapLink }, 3), text, name)
  t.equal(await run(JSON.stringify(bundle), {}, 3), JSON.stringify(bundle), 'no mapper: a pass-through')
})

t.test('a head without links past the head cap is passed through, not held', async (t) => {
  const text = JSON.stringify({ resourceType: 'Bundle', meta: { padding: 'x'.repeat(5000) }, link: bundle.link })
  t.equal(await run(text, { mapLink, maxHeadBytes: 1024 }, 100), text)
})

t.test('a body over the cap errors the stream', async (t) => {
  const text = 'x'.repeat(10_000)
  await t.rejects(run(text, { maxBytes: 9_999 }, 1000), { code: 'HEALOW_ERR_PROXY_BODY_TOO_LARGE', statusCode: 502 })
  t.equal(await run(text, { maxBytes: 10_000 }, 1000), text, 'exactly the cap passes')
  await t.rejects(run(JSON.stringify(bundle), { mapLink, maxBytes: 50 }, 10), { code: 'HEALOW_ERR_PROXY_BODY_TOO_LARGE' }, 'also while scanning')
})

t.test('a whole body in memory: the same bytes as the stream, and the same buffer when there is nothing to rewrite', async (t) => {
  const texts = [
    JSON.stringify(bundle),
    JSON.stringify(bundle, null, 2),
    JSON.stringify({ resourceType: 'Bundle', entry: [], link: bundle.link }),
    JSON.stringify({ resourceType: 'Patient', id: 'p1', link: [{ other: { reference: 'Patient/p2' }, type: 'seealso', url: `${FOREIGN}/x` }] }),
    JSON.stringify({ resourceType: 'Bundle', link: { url: `${FOREIGN}/x` } }),
    JSON.stringify(bundle).slice(0, 120)
  ]
  for (const text of texts) {
    t.equal(rewriteBundleLinks(Buffer.from(text), mapLink).toString('utf8'), await run(text, { mapLink }, 7), text.slice(0, 40))
  }
  const patient = Buffer.from(JSON.stringify({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Okafor' }] }))
  t.equal(rewriteBundleLinks(patient, mapLink), patient, 'no "link" key: the very same buffer')
  const unlinked = Buffer.from(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 0 }))
  t.equal(rewriteBundleLinks(unlinked, mapLink), unlinked)
  const withLink = Buffer.from(JSON.stringify({ resourceType: 'Patient', link: [] }))
  t.equal(rewriteBundleLinks(withLink, mapLink), withLink, 'a Patient\'s own link element: scanned, left as it is')
  const rewritten = rewriteBundleLinks(Buffer.from(JSON.stringify(bundle)), mapLink)
  t.equal(JSON.parse(rewritten.toString('utf8')).link.length, 2, 'the foreign link is dropped')
})
