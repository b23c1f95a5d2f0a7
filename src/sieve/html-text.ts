/**
 * The text of an HTML part for the body test's :text transform (RFC 5173
 * §5.3 leaves the conversion to the implementation): tags and comments
 * removed, the contents of head, title, script and style dropped (an
 * unclosed one runs to the end, as in Pigeonhole), a few entities decoded.
 * One forward pass with indexOf: linear in the input.
 */

const SKIPPED = new Set(['head', 'title', 'script', 'style']);
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Converts HTML to the text a reader sees. */
export function htmlToText(html: string): string {
  // ASCII-only lower case keeps every index valid for `html`
  const lower = html.replace(/[A-Z]/g, (c) => c.toLowerCase());
  let out = '';
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out += html.slice(i);
      break;
    }
    out += html.slice(i, lt);
    if (lower.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end < 0 ? html.length : end + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break;
    const name = /^<\/?\s*([a-z0-9]*)/.exec(lower.slice(lt, Math.min(gt, lt + 40)))?.[1] ?? '';
    i = gt + 1;
    if (SKIPPED.has(name) && lower[lt + 1] !== '/') {
      const close = lower.indexOf(`</${name}`, i);
      i = close < 0 ? html.length : html.indexOf('>', close) + 1 || html.length;
    }
    out += ' ';
  }
  return out.replace(/&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,6});/gi, (whole, e: string) => {
    if (e[0] !== '#') return ENTITIES[e.toLowerCase()] ?? whole;
    const code = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1));
    return code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
  });
}
