import { describeResource } from './display.js'
import { html } from './html.js'
import { renderLayout } from './layout.js'
import type { ConnectionView } from './view-types.js'

export interface RecordsPageModel {
  connection: ConnectionView
  type: string
  resources: Array<Record<string, unknown>>
  /** Query string (without `?`) of the next page of this view, when there is one. */
  nextQuery: string | undefined
  sandbox: boolean
}

/** `/connections/:id/records?type=X`: one page of a type's synced records as a table. */
export function renderRecordsPage (model: RecordsPageModel): string {
  const { connection: c, type, resources } = model
  const id = encodeURIComponent(c.id)
  const types = Object.keys(c.lastSync?.counts ?? {}).sort()
  if (!types.includes(type)) types.unshift(type)
  const options = types.map((t) => html`<option value="${t}"${t === type ? html` selected` : ''}>${t}</option>`)
  // Newest first within the page (pages follow the store's change order).
  const lines = resources.map(describeResource).sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''))
  const rows = lines.map((line) => {
    const date = line.date !== undefined ? html`<time datetime="${line.date}">${line.date.slice(0, 10)}</time>` : html`<span class="muted">no date</span>`
    return html`<tr><td>${date}</td><td>${line.type}</td><td>${line.text}</td></tr>`
  })
  const table = rows.length === 0
    ? html`<p role="status">No ${type} records stored for this connection.</p>`
    : html`<table><caption>${type} records from ${c.practice.name}</caption>
<thead><tr><th scope="col">Date</th><th scope="col">Type</th><th scope="col">Description</th></tr></thead>
<tbody>${rows}</tbody></table>`
  const next = model.nextQuery !== undefined ? html`<p><a href="/connections/${id}/records?${model.nextQuery}" rel="next">Next page</a></p>` : undefined
  const body = html`<p><a href="/">← All connections</a></p>
<h1>${type} records</h1>
<section aria-label="${type} records">
<p>${c.practice.name}, patient ${c.patientId}</p>
<form method="get" action="/connections/${id}/records" class="row">
<div><label for="type">Record type</label><select id="type" name="type">${options}</select></div>
<button type="submit">Show</button>
</form>
${table}
${next}
</section>`
  return renderLayout({ title: `${type} records - fastify-healow example`, body, sandbox: model.sandbox })
}

/** A small page for "not found" and "could not load" answers. */
export function renderMessagePage (title: string, message: string, sandbox: boolean): string {
  return renderLayout({
    title: `${title} - fastify-healow example`,
    body: html`<h1>${title}</h1><p role="alert">${message}</p><p><a href="/">Back to your connections</a></p>`,
    sandbox
  })
}
