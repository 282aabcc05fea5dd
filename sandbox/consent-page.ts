import { escapeHtml } from './gen-context.js'

/** The sandbox's sign-in and consent page: one button per patient, and Deny. Everything shown is escaped. */

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b2733}
main{max-width:34rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin-top:0}h2{font-size:1.05rem}
fieldset{border:0;padding:0;margin:1rem 0}legend{font-weight:600;margin-bottom:.5rem}
button{display:block;width:100%;margin:.5rem 0;padding:.7rem;font-size:1rem;border-radius:6px;border:1px solid #1d5fa8;cursor:pointer}
button.patient{background:#1d5fa8;color:#fff}button.deny{background:#fff;color:#8a1c1c;border-color:#8a1c1c}
button:focus-visible{outline:3px solid #f2b632;outline-offset:2px}
ul{padding-left:1.2rem}code{font-size:.85rem}.note{font-size:.85rem;color:#4a5a6a}`

export interface ConsentPage {
  practiceName: string
  clientId: string
  scopes: string[]
  formToken: string
  action: string
  patients: Array<{ id: string, name: string }>
}

export function renderConsentPage (page: ConsentPage): string {
  const scopes = page.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('')
  const buttons = page.patients.map((p) =>
    `<button class="patient" type="submit" name="patient" value="${escapeHtml(p.id)}">Sign in as ${escapeHtml(p.name)}</button>`).join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - ${escapeHtml(page.practiceName)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(page.practiceName)}</h1>
<p>The application <strong>${escapeHtml(page.clientId)}</strong> asks to read your health records.</p>
<h2 id="access">Requested access</h2>
<ul aria-labelledby="access">${scopes}</ul>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="request" value="${escapeHtml(page.formToken)}">
<fieldset>
<legend>Choose a sandbox patient</legend>
${buttons}
</fieldset>
<button class="deny" type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="note">This is a local sandbox practice. Every record in it is synthetic.</p>
</main>
</body>
</html>`
}

/** A plain error page for requests that must not be redirected (unknown client, bad redirect URI). */
export function renderErrorPage (title: string, message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1><p role="alert">${escapeHtml(message)}</p></main></body>
</html>`
}

/** Headers for every HTML page: no framing (consent clickjacking), no caching, no scripts. */
export const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer'
} as const
