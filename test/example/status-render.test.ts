import t from 'tap'
import { renderMessagePage, renderRecordsPage } from '../../example/records-page.js'
import { renderStatusPage, type StatusPageModel } from '../../example/status-page.js'
import type { ConnectionView } from '../../example/view-types.js'

const connection: ConnectionView = {
  id: 'c1',
  practice: { id: 'ABCDEF', name: 'Oak & <Elm> Clinic' },
  patientId: 'p-1',
  mode: 'public',
  reauth_required: true,
  reauthReason: 'token_expired',
  lastSync: {
    outcome: 'partial',
    jobId: '9',
    finishedAt: '2026-02-03T04:05:06.000Z',
    counts: { Observation: 3, Condition: 2 },
    failures: [{ search: 'Goal', status: 400, reason: 'Does not know how to <handle>' }, { search: 'CareTeam:active', reason: 'timed out' }],
    error: 'Upstream said <no>'
  },
  nextSyncAt: null
}

function model (overrides: Partial<StatusPageModel> = {}): StatusPageModel {
  return { q: '', results: undefined, connections: [connection], notices: {}, sandboxTenantId: undefined, sandboxName: undefined, prefix: '/healow', nonce: 'n0nce', ...overrides }
}

t.test('a connection that needs attention shows why, what failed and how to reconnect', async (t) => {
  const page = renderStatusPage(model())
  t.match(page, '<p class="notice error" role="alert">The practice needs you to sign in again (token_expired). <a href="/healow/authorize?tenant=ABCDEF&amp;returnTo=%2F">Reconnect<span class="visually-hidden"> Oak &amp; &lt;Elm&gt; Clinic</span></a></p>')
  t.match(page, '<dd>public (no refresh token: sign in again when the access expires)</dd>')
  t.match(page, '<dd class="outcome">partial (some searches failed), <time datetime="2026-02-03T04:05:06.000Z">2026-02-03 04:05 UTC</time></dd>')
  t.match(page, '<dt>Next sync</dt><dd>not scheduled</dd>')
  t.match(page, '<li><strong>Goal</strong> (HTTP 400): Does not know how to &lt;handle&gt;</li>')
  t.match(page, '<li><strong>CareTeam:active</strong>: timed out</li>')
  t.match(page, '<p class="notice error">Upstream said &lt;no&gt;</p>')
  t.match(page, 'data-state="partial|9|2026-02-03T04:05:06.000Z" data-outcome="partial"')
  t.ok(page.indexOf('>Condition</a>') < page.indexOf('>Observation</a>'), 'types in alphabetical order')
  t.match(page, '<script nonce="n0nce">')
})

t.test('the notices after the example\'s own forms', async (t) => {
  const page = (notices: StatusPageModel['notices']): string => renderStatusPage(model({ notices, connections: [] }))
  t.match(page({ sync: 'reauth' }), 'The practice needs you to sign in again: use Reconnect.')
  t.match(page({ sync: 'failed' }), 'The sync could not be started. Try again later.')
  t.match(page({ sync: 'too_soon', retryAfterS: 30 }), 'You can sync again in about 1 minute.')
  t.match(page({ sync: 'too_soon', retryAfterS: 600 }), 'You can sync again in about 10 minutes.')
  t.match(page({ connectedId: 'gone' }), '<p class="notice" role="status">Connected. The first sync has been queued.</p>')
  t.match(page({ loadError: 'Redis <down>' }), '<p class="notice error" role="alert">Redis &lt;down&gt;</p>')
  t.notMatch(page({}), '<script', 'no connection, no script')
  t.match(renderStatusPage(model({ connections: [{ ...connection, lastSync: { outcome: 'running' } }], notices: { connectedId: 'c1' } })),
    'Connected to <strong>Oak &amp; &lt;Elm&gt; Clinic</strong>. The first sync is running.')
})

t.test('records and message pages escape what they show', async (t) => {
  const page = renderRecordsPage({
    connection,
    type: 'Condition',
    resources: [{ resourceType: 'Condition', code: { text: '<b>Flu</b>' }, recordedDate: '2020-01-01' }, { resourceType: 'Condition', id: 'x' }],
    nextQuery: 'type=Condition&since=5',
    sandbox: true
  })
  t.match(page, '<tr><td><time datetime="2020-01-01">2020-01-01</time></td><td>Condition</td><td>&lt;b&gt;Flu&lt;/b&gt;</td></tr>')
  t.match(page, '<tr><td><span class="muted">no date</span></td><td>Condition</td><td>Condition/x</td></tr>')
  t.match(page, '<a href="/connections/c1/records?type=Condition&amp;since=5" rel="next">Next page</a>')
  t.match(page, '<span class="badge">Sandbox practice: synthetic records</span>')
  const empty = renderRecordsPage({ connection: { ...connection, lastSync: null }, type: 'Goal', resources: [], nextQuery: undefined, sandbox: false })
  t.match(empty, '<p role="status">No Goal records stored for this connection.</p>')
  t.match(empty, '<option value="Goal" selected>Goal</option>', 'the asked type is offered even without counts')
  t.notMatch(empty, 'rel="next"')
  t.match(renderMessagePage('Not <found>', 'No <such> thing', false), '<h1>Not &lt;found&gt;</h1><p role="alert">No &lt;such&gt; thing</p>')
})

t.test('records read newest first within a page, undated last', async (t) => {
  const page = renderRecordsPage({
    connection,
    type: 'Condition',
    resources: [
      { resourceType: 'Condition', id: 'old', recordedDate: '2015-03-01' },
      { resourceType: 'Condition', id: 'none' },
      { resourceType: 'Condition', id: 'new', recordedDate: '2024-07-09' },
      { resourceType: 'Condition', id: 'mid', onsetDateTime: '2019-11-20T10:00:00Z' }
    ],
    nextQuery: undefined,
    sandbox: false
  })
  const order = [...page.matchAll(/Condition\/(\w+)<\/td>/g)].map((m) => m[1])
  t.same(order, ['new', 'mid', 'old', 'none'])
})
