import t from 'tap'
import { Browser } from '../helpers/browser.js'
import { connectSandbox, startTestHost, waitForSync } from './helpers.js'

const EVIL = '<script>alert("x")</script> & Sons'
const EVIL_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Sons'

t.test('the status page works without JavaScript and escapes everything it shows', async (t) => {
  const { host, logs } = await startTestHost(t, { sandbox: { autoApprove: true, practiceName: EVIL } })
  const { app } = host

  const empty = await app.inject('/')
  t.equal(empty.statusCode, 200)
  t.equal(empty.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(empty.headers['cache-control'], 'no-store')
  t.match(empty.headers['content-security-policy'], "script-src 'none'")
  t.match(empty.body, '<a class="skip" href="#main">Skip to main content</a>')
  t.match(empty.body, '<form method="get" action="/" role="search" class="row">')
  t.match(empty.body, '<label for="q">Practice name</label><input id="q" name="q" type="search"')
  t.match(empty.body, 'No practice connected yet.')
  t.notMatch(empty.body, '<script', 'no script without connections')
  t.match(empty.body, `Search for <a href="/?q=${encodeURIComponent(EVIL)}">${EVIL_ESCAPED}</a>`)

  const search = await app.inject(`/?q=${encodeURIComponent('Sons')}`)
  t.match(search.body, `<li><span>${EVIL_ESCAPED} <span class="muted">(SANDBX)</span></span><a href="/healow/authorize?tenant=SANDBX&amp;returnTo=%2F">Connect<span class="visually-hidden"> to ${EVIL_ESCAPED}</span></a></li>`)
  t.notMatch(search.body, '<script>alert', 'the practice name never appears raw')

  const reflected = await app.inject(`/?q=${encodeURIComponent('"><img src=x onerror=alert(1)>')}`)
  t.match(reflected.body, 'value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"')
  t.match(reflected.body, 'No practice matches “&quot;&gt;&lt;img src=x onerror=alert(1)&gt;”.')
  t.notMatch(reflected.body, '<img')

  const real = await app.inject('/?q=family')
  t.match(real.body, '<span class="muted">needs a Healow client id</span>', 'in sandbox mode real practices cannot be connected')

  const denied = await app.inject('/?healow_error=access_denied')
  t.match(denied.body, '<p class="notice error" role="alert">You declined access at the practice, so nothing was connected. <span class="muted">(code access_denied)</span></p>')
  const odd = await app.inject(`/?healow_error=${encodeURIComponent('<b>x</b>')}`)
  t.match(odd.body, 'Connecting did not finish. Try again. <span class="muted">(code &lt;b&gt;x&lt;/b&gt;)</span>')

  const browser = new Browser()
  const id = await connectSandbox(host, browser)
  const status = await waitForSync(host, browser, id, 'initial')
  t.equal(status.lastSync.outcome, 'succeeded')
  const patientId = host.sandbox?.patientId ?? ''
  const expected = host.sandbox?.expectedCounts(patientId).byType ?? {}

  const page = await browser.get(`${host.url}/?connection=${id}`)
  t.equal(page.status, 200)
  t.match(page.body, `<p class="notice" role="status">Connected to <strong>${EVIL_ESCAPED}</strong>.</p>`)
  t.match(page.body, `<article id="conn-${id}" aria-labelledby="conn-${id}-h" data-events="/healow/connections/${id}/events"`)
  t.match(page.body, `data-state="succeeded|${String(status.lastSync.jobId)}|${String(status.lastSync.finishedAt)}"`)
  t.match(page.body, `<h3 id="conn-${id}-h">${EVIL_ESCAPED}</h3>`)
  t.match(page.body, `<dt>Patient</dt><dd>${patientId}</dd>`)
  t.match(page.body, '<dt>Mode</dt><dd>confidential</dd>')
  t.match(page.body, '<dt>Last sync</dt><dd class="outcome">succeeded, <time')
  t.match(page.body, `<a href="/connections/${id}/records?type=Condition">Condition</a></th><td>${String(expected.Condition)}</td>`)
  t.match(page.body, `<form method="post" action="/connections/${id}/sync"><button type="submit">Sync now`)
  t.notMatch(page.body, '<script>alert')
  const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers['content-security-policy'] as string)?.[1]
  t.ok(nonce !== undefined && page.body.includes(`<script nonce="${nonce}">`), 'the live script runs by the nonce in the CSP')

  const records = await browser.get(`${host.url}/connections/${id}/records?type=Condition`)
  t.equal(records.status, 200)
  t.match(records.body, '<h1>Condition records</h1>')
  t.match(records.body, `<caption>Condition records from ${EVIL_ESCAPED}</caption>`)
  t.equal(records.body.match(/<tr><td>/g)?.length, expected.Condition, 'one row per stored Condition')
  t.match(records.body, /<tr><td><time datetime="\d{4}-\d\d-\d\d[^"]*">\d{4}-\d\d-\d\d<\/time><\/td><td>Condition<\/td><td>[^<]+<\/td><\/tr>/)
  t.match(records.body, '<option value="Condition" selected>Condition</option>')

  const firstPage = await browser.get(`${host.url}/connections/${id}/records?type=Observation&limit=20`)
  t.equal(firstPage.body.match(/<tr><td>/g)?.length, 20, 'the plugin pages by the limit the query passes on')
  const nextHref = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(firstPage.body)?.[1]?.replace(/&amp;/g, '&')
  t.match(nextHref, new RegExp(`^/connections/${id}/records\\?.*type=Observation`))
  const secondPage = await browser.get(`${host.url}${nextHref ?? ''}`)
  t.equal(secondPage.status, 200)
  const firstRows = firstPage.body.match(/<tr><td>.*?<\/tr>/g) ?? []
  const secondRows = secondPage.body.match(/<tr><td>.*?<\/tr>/g) ?? []
  t.equal(secondRows.length, Math.min(20, (expected.Observation ?? 0) - 20))
  t.not(secondRows.join(), firstRows.join(), 'the next page holds other records')

  const stranger = new Browser()
  t.equal((await stranger.get(`${host.url}/connections/${id}/records?type=Condition`)).status, 404, 'another user sees no records')
  t.notMatch((await stranger.get(`${host.url}/`)).body, `conn-${id}`, 'nor the connection')
  t.equal((await browser.get(`${host.url}/connections/${id}/records`)).status, 400, 'a type is required')
  t.equal((await browser.get(`${host.url}/connections/a.b/records?type=Condition`)).status, 404)

  const synced = await browser.post(`${host.url}/connections/${id}/sync`, {})
  t.equal(synced.status, 303)
  t.equal(synced.location, `${host.url}/?sync=queued#conn-${id}`)
  t.match((await browser.get(synced.location ?? '')).body, '<p class="notice" role="status">Sync started.</p>')
  await waitForSync(host, browser, id, 'manual')
  const again = await browser.post(`${host.url}/connections/${id}/sync`, {})
  t.match(again.location, new RegExp(`/\\?sync=too_soon&retry=\\d+#conn-${id}$`), 'the manual floor holds')
  t.match((await browser.get(again.location ?? '')).body, /A sync ran recently\. You can sync again in about 1[45] minutes\./)

  const foreign = await browser.post(`${host.url}/connections/${id}/disconnect`, {}, { origin: 'https://evil.example' })
  t.equal(foreign.location, `${host.url}/`, 'a cross-site form post is refused')
  t.match((await browser.get(`${host.url}/`)).body, `conn-${id}`, 'and the connection stays')

  const removed = await browser.post(`${host.url}/connections/${id}/disconnect`, {}, { origin: host.url })
  t.equal(removed.status, 303)
  t.equal(removed.location, `${host.url}/?removed=1`)
  const after = await browser.get(removed.location ?? '')
  t.match(after.body, 'Disconnected. Its tokens, schedule and stored records are gone.')
  t.match(after.body, 'No practice connected yet.')

  t.notMatch(logs(), host.sandbox?.clientSecret ?? 'x', 'no client secret in the logs')
})
