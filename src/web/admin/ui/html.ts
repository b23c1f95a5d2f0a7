/**
 * Server-rendered HTML for the web admin: a tagged template that escapes
 * every interpolated value unless it is already Html, and the page frame.
 * No inline scripts or styles, so the Content-Security-Policy can forbid them.
 */

/** Markup that is already safe to insert. */
export class Html {
  constructor(readonly text: string) {}
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values. */
const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

function part(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(part).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** Builds markup; interpolated values are escaped (arrays joined, null/undefined/false left out). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += part(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** A hidden CSRF field for a form. */
export const csrfField = (csrf: string): Html => html`<input type="hidden" name="csrf" value="${csrf}">`;

/** A form with one button that POSTs to `action` (kick, disable …). */
export const buttonForm = (action: string, label: string, csrf: string): Html =>
  html`<form method="post" action="${action}" class="inline">${csrfField(csrf)}<button type="submit">${label}</button></form>`;

/** The page frame: navigation when signed in, a notice, the content. */
export function page(title: string, content: Html, opts: { user?: string; csrf?: string; notice?: string; error?: string } = {}): string {
  const nav =
    opts.user && opts.csrf
      ? html`<nav><a href="/admin/">Dashboard</a> <a href="/admin/accounts">Accounts</a> <a href="/admin/sessions">Sessions</a> <a href="/admin/audit">Audit</a>
<span class="who">${opts.user}</span> ${buttonForm('/admin/logout', 'Sign out', opts.csrf)}</nav>`
      : '';
  const notice = opts.notice ? html`<p class="notice" role="status">${opts.notice}</p>` : '';
  const error = opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · mailkeep admin</title><link rel="stylesheet" href="/admin/style.css"></head>
<body>${nav}<main><h1>${title}</h1>${notice}${error}${content}</main></body></html>
`.text;
}

/** The stylesheet (served as a file: the CSP allows no inline style). */
export const STYLE = `body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#222}
nav{background:#234;padding:.6em 1em}nav a{color:#fff;margin-right:1em}nav .who{color:#9bd;margin:0 1em}
main{padding:1em 2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left}
.notice{background:#e6f4ea;padding:.5em}.error{background:#fde8e8;padding:.5em}form.inline{display:inline}
fieldset{margin:1em 0;border:1px solid #ccc}label{display:block;margin:.3em 0}.num{text-align:right}
`;
