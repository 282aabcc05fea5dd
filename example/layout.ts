import { html, trusted, type SafeHtml } from './html.js'

/** Colours meet WCAG AA contrast on white (text #1b2733, links #0b5394, alerts #8a1c1c). */
const STYLE = `
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b2733}
a{color:#0b5394}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #f2b632;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem 1rem}.skip:focus{left:1rem}
header,main,footer{max-width:52rem;margin:0 auto;padding:1rem 1.25rem}
header{display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}header p{margin:0;font-weight:600}
.badge{font-size:.8rem;background:#fff4d6;border:1px solid #8a6d00;color:#5c4900;padding:.1rem .5rem;border-radius:1rem}
section,article{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:1rem 1.25rem;margin:1rem 0}
article{border:1px solid #d4dbe2;box-shadow:none}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.2rem;margin-top:0}h3{font-size:1.1rem;margin:0 0 .5rem}
label{display:block;font-weight:600;margin-bottom:.25rem}
input[type=search],select{font:inherit;padding:.45rem;border:1px solid #5b6b7b;border-radius:6px;min-width:16rem}
button{font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid #0b5394;background:#0b5394;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#8a1c1c;border-color:#8a1c1c}
.row{display:flex;gap:.5rem;flex-wrap:wrap;align-items:flex-end}.row form{margin:0}
.notice{padding:.6rem 1rem;border-radius:6px;background:#e7f1fb;border:1px solid #0b5394}
.notice.error{background:#fbeaea;border-color:#8a1c1c;color:#5e1313}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dt{font-weight:600}dd{margin:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d4dbe2;vertical-align:top}
.results{list-style:none;padding:0}.results li{display:flex;justify-content:space-between;gap:1rem;padding:.4rem 0;border-bottom:1px solid #d4dbe2}
.muted{color:#4a5a6a;font-size:.9rem}progress{width:100%;height:1rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}`

export interface LayoutOptions {
  title: string
  body: SafeHtml
  sandbox: boolean
  /** Inline script, allowed by the page's CSP nonce. */
  script?: { nonce: string, source: string }
}

/** The page shell: skip link, header, main landmark, footer. */
export function renderLayout (options: LayoutOptions): string {
  const { title, body, sandbox, script } = options
  const badge = sandbox ? html`<span class="badge">Sandbox practice: synthetic records</span>` : undefined
  const scriptTag = script !== undefined ? html`<script nonce="${script.nonce}">${trusted(script.source)}</script>` : undefined
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${trusted(STYLE)}</style>
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header><p><a href="/">fastify-healow</a> example host</p>${badge}</header>
<main id="main" tabindex="-1">
${body}
</main>
<footer class="muted">Records are stored encrypted in Redis and synced by the worker.</footer>
${scriptTag}
</body>
</html>`.value
}
