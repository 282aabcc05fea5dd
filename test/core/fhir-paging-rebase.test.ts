import t from 'tap'
import { rebaseLink } from '../../core/fhir-paging.js'

const BASE = 'https://fhir4.healow.com/fhir/r4/SANDBX'
const FOREIGN = 'http://fhir4.eclinicalworks.com/fhir/r4/SANDBX'

/** Links a practice may send, and where each must (or must not) lead. */
const CASES: Array<[string, string, string | undefined]> = [
  ['foreign-origin next link', `${FOREIGN}/Observation?patient=p1&category=laboratory&_count=50&_offset=50`,
    `${BASE}/Observation?patient=p1&category=laboratory&_count=50&_offset=50`],
  ['same-origin link', `${BASE}/Condition?patient=p1&_count=50`, `${BASE}/Condition?patient=p1&_count=50`],
  ['paging on the base itself', `${FOREIGN}?_getpages=abc123&_getpagesoffset=50&_count=50&_bundletype=searchset`,
    `${BASE}?_getpages=abc123&_getpagesoffset=50&_count=50&_bundletype=searchset`],
  ['encoded query kept as sent', `${FOREIGN}/CareTeam?patient=Patient%2Fp1&status=active`, `${BASE}/CareTeam?patient=Patient%2Fp1&status=active`],
  ['fragment dropped', `${FOREIGN}/Goal?patient=p1#frag`, `${BASE}/Goal?patient=p1`],
  ['read by id with dots and dashes', `${FOREIGN}/Patient/WGrl-9EUZ0RObS.tPio`, `${BASE}/Patient/WGrl-9EUZ0RObS.tPio`],
  ['practice code in another case', 'http://fhir4.eclinicalworks.com/fhir/r4/sandbx/Goal?patient=p1', `${BASE}/Goal?patient=p1`],
  ['another port on the same host', 'https://fhir4.healow.com:8443/fhir/r4/SANDBX/Goal?patient=p1', `${BASE}/Goal?patient=p1`],
  ['another practice', 'http://fhir4.eclinicalworks.com/fhir/r4/OTHER/Observation?patient=p1', undefined],
  ['a longer practice code', 'http://fhir4.eclinicalworks.com/fhir/r4/SANDBXX/Observation', undefined],
  ['the parent of the base', 'http://fhir4.eclinicalworks.com/fhir/r4/', undefined],
  ['dot-dot to another practice', `${FOREIGN}/../OTHER/Observation`, undefined],
  ['dot-dot that stays inside', `${FOREIGN}/Observation/../Condition?patient=p1`, undefined],
  ['single dot segment', `${FOREIGN}/./Observation`, undefined],
  ['encoded dot-dot', `${FOREIGN}/%2e%2e/OTHER/Observation`, undefined],
  ['encoded dot-dot, upper case', `${FOREIGN}/%2E%2E/OTHER/Observation`, undefined],
  ['mixed encoded dot-dot', `${FOREIGN}/.%2e/OTHER`, undefined],
  ['encoded slash after the code', `${FOREIGN}%2F..%2FOTHER/Observation`, undefined],
  ['encoded slashes inside a segment', `${FOREIGN}/Observation%2F..%2F..%2FOTHER`, undefined],
  ['double-encoded dot-dot', `${FOREIGN}/%252e%252e/OTHER`, undefined],
  ['backslash traversal', 'http://fhir4.eclinicalworks.com/fhir/r4/SANDBX\\..\\OTHER', undefined],
  ['encoded backslash', `${FOREIGN}/Observation%5c..%5cOTHER`, undefined],
  ['credentials', 'http://user:secret@fhir4.eclinicalworks.com/fhir/r4/SANDBX/Observation', undefined],
  ['user only', 'http://user@fhir4.eclinicalworks.com/fhir/r4/SANDBX/Observation', undefined],
  ['ftp scheme', 'ftp://fhir4.eclinicalworks.com/fhir/r4/SANDBX/Observation', undefined],
  ['javascript scheme', 'javascript:alert(1)//fhir/r4/SANDBX', undefined],
  ['file scheme', 'file:///fhir/r4/SANDBX/Observation', undefined],
  ['relative path', '/fhir/r4/SANDBX/Observation?patient=p1', undefined],
  ['protocol-relative', '//evil.example/fhir/r4/SANDBX/Observation', undefined],
  ['not a URL', 'not a url', undefined],
  ['empty', '', undefined]
]

t.test('rebaseLink', async (t) => {
  t.ok(CASES.length >= 15)
  for (const [name, link, expected] of CASES) {
    const rebased = rebaseLink(link, BASE)
    t.equal(rebased?.href, expected, name)
    if (rebased !== undefined) t.equal(rebased.origin, 'https://fhir4.healow.com', `${name}: the base origin`)
  }
})

t.test('a base with a trailing slash, and a loopback base', async (t) => {
  t.equal(rebaseLink(`${FOREIGN}/Goal?patient=p1`, `${BASE}/`)?.href, `${BASE}/Goal?patient=p1`)
  t.equal(rebaseLink(`${FOREIGN}/Goal?x=1`, 'http://127.0.0.1:4567/fhir/r4/SANDBX')?.href, 'http://127.0.0.1:4567/fhir/r4/SANDBX/Goal?x=1')
  t.equal(rebaseLink(`${FOREIGN}/Goal`, 'not a base'), undefined)
})
