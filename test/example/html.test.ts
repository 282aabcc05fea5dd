import t from 'tap'
import { describeResource, conceptText, resourceDate } from '../../example/display.js'
import { escapeHtml, html, join, trusted } from '../../example/html.js'
import { formatLogLine } from '../../example/log-lines.js'
import { formatWhen, syncStateKey } from '../../example/status-page.js'

t.test('escapeHtml escapes the five characters that matter in content and attributes', async (t) => {
  t.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;')
  t.equal(escapeHtml(42), '42')
})

t.test('html escapes every interpolated value unless it is html itself', async (t) => {
  const name = '<script>alert(1)</script>'
  const inner = html`<b>${name}</b>`
  t.equal(html`<p title="${name}">${inner}</p>`.value,
    '<p title="&lt;script&gt;alert(1)&lt;/script&gt;"><b>&lt;script&gt;alert(1)&lt;/script&gt;</b></p>')
  t.equal(html`${['<i>', html`<i>`]}`.value, '&lt;i&gt;<i>', 'arrays render item by item')
  t.equal(html`[${null}${undefined}${false}${0}]`.value, '[0]', 'null, undefined and false render nothing')
  t.equal(join([html`<a>`, html`<b>`], ' & ').value, '<a> &amp; <b>')
  t.equal(trusted('<style>a{}</style>').value, '<style>a{}</style>')
  t.equal(String(html`x`), 'x')
})

t.test('describeResource finds text and date in the common FHIR fields', async (t) => {
  t.same(describeResource({ resourceType: 'Condition', id: '1', code: { text: 'Asthma', coding: [{ display: 'other' }] }, onsetDateTime: '2020-01-02T03:04:05Z' }),
    { date: '2020-01-02T03:04:05Z', type: 'Condition', text: 'Asthma' })
  t.same(describeResource({ resourceType: 'Observation', code: { coding: [{ system: 's', display: 'Heart rate' }] }, effectiveDateTime: '2021-05-06' }),
    { date: '2021-05-06', type: 'Observation', text: 'Heart rate' })
  t.equal(describeResource({ resourceType: 'Immunization', vaccineCode: { coding: [{ code: '08' }] }, occurrenceDateTime: '2019-01-01' }).text, '08')
  t.equal(describeResource({ resourceType: 'MedicationRequest', medicationCodeableConcept: { text: 'Metformin' }, authoredOn: '2018-02-02' }).date, '2018-02-02')
  t.equal(describeResource({ resourceType: 'MedicationRequest', medicationReference: { display: 'Insulin' } }).text, 'Insulin')
  t.same(describeResource({ resourceType: 'Encounter', type: [{ text: '' }, { text: 'Office visit' }], period: { start: '2017-03-03' } }),
    { date: '2017-03-03', type: 'Encounter', text: 'Office visit' })
  t.equal(describeResource({ resourceType: 'AllergyIntolerance', type: 'allergy', code: { text: 'Peanut' }, recordedDate: '2016-01-01' }).text, 'Peanut')
  t.equal(describeResource({ resourceType: 'Patient', id: 'p1', name: [{ given: ['Ada', 'B'], family: 'Lovelace' }] }).text, 'Ada B Lovelace')
  t.equal(describeResource({ resourceType: 'Goal', description: { text: 'Walk daily' } }).text, 'Walk daily')
  t.same(describeResource({ resourceType: 'Binary', id: 'b1', meta: { lastUpdated: '2022-02-02T00:00:00Z' } }),
    { date: '2022-02-02T00:00:00Z', type: 'Binary', text: 'Binary/b1' })
  t.same(describeResource({}), { date: undefined, type: 'Resource', text: 'Resource' })
  t.equal(conceptText([{ coding: [{}] }, 'plain']), 'plain')
  t.equal(conceptText(7), undefined)
  t.equal(resourceDate({ date: 5, issued: '2020-01-01' }), '2020-01-01', 'non-string dates are skipped')
})

t.test('formatWhen and syncStateKey', async (t) => {
  t.equal(formatWhen('2026-03-01T10:20:30.000Z').value, '<time datetime="2026-03-01T10:20:30.000Z">2026-03-01 10:20 UTC</time>')
  t.equal(formatWhen(null).value, 'not scheduled')
  t.equal(formatWhen('soon').value, 'not scheduled')
  t.equal(syncStateKey(null), 'none')
  t.equal(syncStateKey({ outcome: 'running', jobId: '7' }), 'running|7|')
  t.equal(syncStateKey({ outcome: 'succeeded', jobId: '7', finishedAt: 'x' }), 'succeeded|7|x')
})

t.test('formatLogLine turns a pino line into a readable one', async (t) => {
  const line = JSON.stringify({ level: 30, time: Date.parse('2026-01-01T12:34:56Z'), pid: 1, hostname: 'h', msg: 'ready', url: 'http://x', n: 2, note: 'two words' })
  t.equal(formatLogLine(line), '12:34:56 INFO  ready url=http://x n=2 note="two words"')
  t.equal(formatLogLine('not json'), 'not json')
  t.equal(formatLogLine(JSON.stringify({ level: 99, msg: 'odd' })), '99 odd')
})
