/**
 * A tiny HTML templating helper: every value interpolated into an `html`
 * template is escaped unless it is itself the output of `html` (or of
 * `join` over such outputs). Escaping is the default, so a forgotten call
 * cannot become an injection.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** HTML that is already safe to emit (built by `html`). */
export class SafeHtml {
  constructor (readonly value: string) {}
  toString (): string { return this.value }
}

/** Escapes text for element content and quoted attribute values. */
export function escapeHtml (value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

type Value = SafeHtml | string | number | boolean | null | undefined | Value[]

function render (value: Value): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof SafeHtml) return value.value
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(value)
}

/** Tagged template: `html\`<p>${name}</p>\`` escapes `name`. Arrays render item by item; null, undefined and false render nothing. */
export function html (strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0] ?? ''
  values.forEach((value, i) => { out += render(value) + (strings[i + 1] ?? '') })
  return new SafeHtml(out)
}

/** Marks a constant we wrote (our CSS, our script) as HTML. Never pass anything built from input. */
export function trusted (constant: string): SafeHtml {
  return new SafeHtml(constant)
}

/** Joins fragments with a separator (escaped like any other text). */
export function join (items: SafeHtml[], separator = ''): SafeHtml {
  return new SafeHtml(items.map((i) => i.value).join(escapeHtml(separator)))
}
