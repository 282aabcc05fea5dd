import { html, type SafeHtml } from './html.js'
import { renderLayout } from './layout.js'
import { LIVE_SCRIPT } from './live-script.js'
import type { ConnectionView, LastSyncView, PageNotices, TenantView } from './view-types.js'

/** Plain words for the codes the plugin's callback puts in `?healow_error=` (OAuth codes from RFC 6749 §4.1.2.1 too). */
const ERROR_MESSAGES: Record<string, string> = {
  access_denied: 'You declined access at the practice, so nothing was connected.',
  invalid_request: 'The practice refused the sign-in request. Try connecting again.',
  invalid_scope: 'The practice refused the requested access. Try connecting again.',
  server_error: 'The practice had a problem signing you in. Try again in a few minutes.',
  temporarily_unavailable: 'The practice is busy. Try again in a few minutes.',
  HEALOW_ERR_NO_PATIENT: 'The practice signed you in but did not say which patient record to use.',
  HEALOW_ERR_ID_TOKEN: 'The practice’s sign-in answer could not be verified, so nothing was connected.',
  HEALOW_ERR_OAUTH_REJECTED: 'The practice refused to finish the sign-in. Try connecting again.',
  HEALOW_ERR_UPSTREAM: 'The practice could not be reached. Try again in a few minutes.',
  HEALOW_ERR_UPSTREAM_TIMEOUT: 'The practice took too long to answer. Try again in a few minutes.',
  HEALOW_ERR_PRACTICE_BUSY: 'The practice is busy right now. Try again in a minute.'
}

const OUTCOME_TEXT: Record<LastSyncView['outcome'], string> = {
  running: 'running',
  succeeded: 'succeeded',
  partial: 'partial (some searches failed)',
  failed: 'failed',
  skipped: 'skipped (a recent sync was still fresh)'
}

export interface StatusPageModel {
  q: string
  /** Search results; undefined when nothing was searched. */
  results: TenantView[] | undefined
  connections: ConnectionView[]
  notices: PageNotices
  /** The local sandbox practice's id in sandbox mode: the only practice its client can connect to. */
  sandboxTenantId: string | undefined
  sandboxName: string | undefined
  prefix: string
  nonce: string
}

/** `2026-03-01T10:20:30.000Z` → `2026-03-01 10:20 UTC` inside a <time> element. */
export function formatWhen (iso: string | null | undefined): SafeHtml {
  if (iso === null || iso === undefined || Number.isNaN(Date.parse(iso))) return html`not scheduled`
  const d = new Date(iso).toISOString()
  return html`<time datetime="${d}">${d.slice(0, 10)} ${d.slice(11, 16)} UTC</time>`
}

/** The state key the live script compares with the first `status` event. */
export function syncStateKey (lastSync: LastSyncView | null): string {
  return lastSync === null ? 'none' : [lastSync.outcome, lastSync.jobId ?? '', lastSync.finishedAt ?? ''].join('|')
}

function renderNotices (model: StatusPageModel): SafeHtml {
  const { notices, connections } = model
  const out: SafeHtml[] = []
  if (notices.connectedId !== undefined) {
    const c = connections.find((x) => x.id === notices.connectedId)
    const next = c === undefined || c.lastSync === null ? ' The first sync has been queued.' : c.lastSync.outcome === 'running' ? ' The first sync is running.' : ''
    out.push(html`<p class="notice" role="status">Connected${c !== undefined ? html` to <strong>${c.practice.name}</strong>` : ''}.${next}</p>`)
  }
  if (notices.errorCode !== undefined) {
    const message = ERROR_MESSAGES[notices.errorCode] ?? 'Connecting did not finish. Try again.'
    out.push(html`<p class="notice error" role="alert">${message} <span class="muted">(code ${notices.errorCode})</span></p>`)
  }
  if (notices.sync === 'queued') out.push(html`<p class="notice" role="status">Sync started.</p>`)
  if (notices.sync === 'too_soon') {
    const minutes = Math.max(1, Math.ceil((notices.retryAfterS ?? 60) / 60))
    out.push(html`<p class="notice error" role="alert">A sync ran recently. You can sync again in about ${minutes} minute${minutes === 1 ? '' : 's'}.</p>`)
  }
  if (notices.sync === 'reauth') out.push(html`<p class="notice error" role="alert">The practice needs you to sign in again: use Reconnect.</p>`)
  if (notices.sync === 'failed') out.push(html`<p class="notice error" role="alert">The sync could not be started. Try again later.</p>`)
  if (notices.removed === true) out.push(html`<p class="notice" role="status">Disconnected. Its tokens, schedule and stored records are gone.</p>`)
  if (notices.loadError !== undefined) out.push(html`<p class="notice error" role="alert">${notices.loadError}</p>`)
  return html`${out}`
}

function connectHref (model: StatusPageModel, tenantId: string): string {
  return `${model.prefix}/authorize?tenant=${encodeURIComponent(tenantId)}&returnTo=${encodeURIComponent('/')}`
}

function renderResult (model: StatusPageModel, tenant: TenantView): SafeHtml {
  const usable = model.sandboxTenantId === undefined || tenant.id.toUpperCase() === model.sandboxTenantId.toUpperCase()
  const action = usable
    ? html`<a href="${connectHref(model, tenant.id)}">Connect<span class="visually-hidden"> to ${tenant.name}</span></a>`
    : html`<span class="muted">needs a Healow client id</span>`
  return html`<li><span>${tenant.name} <span class="muted">(${tenant.id})</span></span>${action}</li>`
}

function renderSearch (model: StatusPageModel): SafeHtml {
  const hint = model.sandboxName !== undefined
    ? html`<p class="muted">Running against the built-in sandbox practice. Search for <a href="/?q=${encodeURIComponent(model.sandboxName)}">${model.sandboxName}</a>; real practices need a registered Healow client id (HEALOW_CLIENT_ID).</p>`
    : undefined
  let results: SafeHtml | undefined
  if (model.results !== undefined) {
    results = model.results.length === 0
      ? html`<p role="status">No practice matches “${model.q}”.</p>`
      : html`<h3 id="results-h">Practices matching “${model.q}”</h3><ul class="results" aria-labelledby="results-h">${model.results.map((t) => renderResult(model, t))}</ul>`
  }
  return html`<section aria-labelledby="connect-h">
<h2 id="connect-h">Connect a practice</h2>
${hint}
<form method="get" action="/" role="search" class="row">
<div><label for="q">Practice name</label><input id="q" name="q" type="search" value="${model.q}" maxlength="200" autocomplete="off"></div>
<button type="submit">Search</button>
</form>
${results}
</section>`
}

function renderCounts (c: ConnectionView): SafeHtml | undefined {
  const counts = Object.entries(c.lastSync?.counts ?? {}).sort(([a], [b]) => a.localeCompare(b))
  if (counts.length === 0) return undefined
  const rows = counts.map(([type, n]) => html`<tr><th scope="row"><a href="/connections/${encodeURIComponent(c.id)}/records?type=${encodeURIComponent(type)}">${type}</a></th><td>${n}</td></tr>`)
  return html`<table><caption>Records by type (last sync)</caption><thead><tr><th scope="col">Type</th><th scope="col">Records</th></tr></thead><tbody>${rows}</tbody></table>`
}

function renderFailures (last: LastSyncView | null): SafeHtml | undefined {
  const failures = last?.failures ?? []
  const items = failures.map((f) => html`<li><strong>${f.search}</strong>${f.status !== undefined ? html` (HTTP ${f.status})` : ''}: ${f.reason}</li>`)
  const error = last?.error !== undefined ? html`<p class="notice error">${last.error}</p>` : undefined
  if (items.length === 0 && error === undefined) return undefined
  return html`${error}${items.length > 0 ? html`<h4>Searches that failed</h4><ul>${items}</ul>` : ''}`
}

function renderConnection (model: StatusPageModel, c: ConnectionView): SafeHtml {
  const last = c.lastSync
  const id = encodeURIComponent(c.id)
  const outcome = last === null ? 'waiting for the first sync' : OUTCOME_TEXT[last.outcome] ?? last.outcome
  const reauth = c.reauth_required
    ? html`<p class="notice error" role="alert">The practice needs you to sign in again${c.reauthReason !== undefined ? html` (${c.reauthReason})` : ''}. <a href="${connectHref(model, c.practice.id)}">Reconnect<span class="visually-hidden"> ${c.practice.name}</span></a></p>`
    : undefined
  const headingId = `conn-${c.id}-h`
  return html`<article id="conn-${c.id}" aria-labelledby="${headingId}" data-events="${model.prefix}/connections/${id}/events" data-status="${model.prefix}/connections/${id}" data-state="${syncStateKey(last)}" data-outcome="${last?.outcome ?? 'none'}">
<h3 id="${headingId}">${c.practice.name}</h3>
${reauth}
<dl>
<dt>Patient</dt><dd>${c.patientId}</dd>
<dt>Mode</dt><dd>${c.mode}${c.mode === 'public' ? ' (no refresh token: sign in again when the access expires)' : ''}</dd>
<dt>Last sync</dt><dd class="outcome">${outcome}${last?.finishedAt !== undefined ? html`, ${formatWhen(last.finishedAt)}` : ''}</dd>
<dt>Next sync</dt><dd>${formatWhen(c.nextSyncAt)}</dd>
</dl>
<div class="live" aria-live="polite"><progress hidden aria-label="Sync progress for ${c.practice.name}"></progress><span class="live-text"></span></div>
${renderCounts(c)}
${renderFailures(last)}
<div class="row">
<form method="post" action="/connections/${id}/sync"><button type="submit">Sync now<span class="visually-hidden"> ${c.practice.name}</span></button></form>
<form method="post" action="/connections/${id}/disconnect"><button type="submit" class="secondary">Disconnect<span class="visually-hidden"> ${c.practice.name}</span></button></form>
</div>
</article>`
}

/** The whole status page at `/`. */
export function renderStatusPage (model: StatusPageModel): string {
  const list = model.connections.length === 0
    ? html`<p>No practice connected yet. Search for one above and connect it.</p>`
    : html`${model.connections.map((c) => renderConnection(model, c))}`
  const body = html`<h1>Your health records</h1>
${renderNotices(model)}
${renderSearch(model)}
<section aria-labelledby="connections-h">
<h2 id="connections-h">Connected practices</h2>
${list}
</section>`
  return renderLayout({
    title: 'Health records - fastify-healow example',
    body,
    sandbox: model.sandboxTenantId !== undefined,
    script: model.connections.length > 0 ? { nonce: model.nonce, source: LIVE_SCRIPT } : undefined
  })
}
