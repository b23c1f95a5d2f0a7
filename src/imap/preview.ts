/**
 * FETCH PREVIEW (RFC 8970): a short plain-text rendering of the first text
 * part a reader would see, computed at fetch time from the stored part tree
 * and a bounded read of that part's bytes.
 *
 * Invariants: at most SOURCE_BYTES of the message are read and every step is
 * linear in them; the result is UTF-8 of at most PREVIEW_CHARS characters
 * (code points, RFC 8970 §3.3), and "" when there is no text to show.
 */
import { decodeCharset } from '../mime/charset.js';
import { decodeTransferEncoding } from '../mime/transfer-encoding.js';
import type { PartIndex } from '../mime/types.js';

/** RFC 8970 §3.3: SHOULD be at most 200 preview characters (MUST NOT exceed 256). */
export const PREVIEW_CHARS = 200;
/** Raw part bytes read for a preview: ample for 200 characters, even of HTML or base64. */
const SOURCE_BYTES = 16 * 1024;

/** Reads [start, end) of the message. */
export type ByteReader = (start: number, end: number) => Promise<Buffer>;

/** The first text/plain or text/html leaf part, depth first; null when there is none. */
export function previewPart(root: PartIndex): PartIndex | null {
  const stack: PartIndex[] = [root];
  while (stack.length > 0) {
    const part = stack.pop()!;
    if (part.parts) {
      for (let i = part.parts.length - 1; i >= 0; i--) stack.push(part.parts[i]!);
    } else if (part.type === 'text' && (part.subtype === 'plain' || part.subtype === 'html')) {
      return part;
    }
  }
  return null;
}

/** The preview text of a message (RFC 8970 §3.2: "" when nothing meaningful can be shown). */
export async function messagePreview(root: PartIndex, read: ByteReader): Promise<string> {
  const part = previewPart(root);
  if (!part) return '';
  const truncated = part.be - part.bs > SOURCE_BYTES;
  const raw = await read(part.bs, Math.min(part.be, part.bs + SOURCE_BYTES));
  const decoded = decodeTransferEncoding(part.encoding, raw);
  if (!decoded) return '';
  let text = decodeCharset(decoded, part.charset);
  // A cut through a multi-byte character decodes to U+FFFD at the end.
  if (truncated) text = text.replace(/\uFFFD+$/, '');
  if (part.subtype === 'html') text = htmlText(text);
  return clip(text.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim());
}

/** The first PREVIEW_CHARS code points (never half a surrogate pair). */
function clip(text: string): string {
  let out = '';
  let n = 0;
  for (const ch of text) {
    if (++n > PREVIEW_CHARS) break;
    out += ch;
  }
  return out;
}

/** Elements whose content is not body text. */
const NOT_TEXT = new Set(['head', 'script', 'style', 'title']);
/** Elements that do not break words. */
const INLINE = new Set([
  'a',
  'abbr',
  'b',
  'bdi',
  'bdo',
  'cite',
  'code',
  'em',
  'font',
  'i',
  'kbd',
  'mark',
  'q',
  's',
  'small',
  'span',
  'strong',
  'sub',
  'sup',
  'u',
]);

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** RFC 8970 §3.3 "SHOULD remove any formatting markup": tags, comments, script and style content; common entities decoded. */
export function htmlText(html: string): string {
  // ASCII-only lowering keeps indices aligned with `html` (toLowerCase may change a string's length).
  const lower = html.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  let out = '';
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out += html.slice(i);
      break;
    }
    out += html.slice(i, lt);
    let end: number;
    if (lower.startsWith('<!--', lt)) {
      end = lower.indexOf('-->', lt + 4);
      end = end < 0 ? html.length : end + 3;
    } else {
      const gt = html.indexOf('>', lt);
      end = gt < 0 ? html.length : gt + 1;
      const name = /^<\/?([a-z][a-z0-9]*)/.exec(lower.slice(lt, lt + 12))?.[1] ?? '';
      if (NOT_TEXT.has(name) && lower[lt + 1] !== '/') {
        const close = lower.indexOf(`</${name}`, end);
        const closeEnd = close < 0 ? -1 : lower.indexOf('>', close);
        end = closeEnd < 0 ? html.length : closeEnd + 1;
      }
      // A block boundary separates words ("<p>a</p><p>b</p>" reads "a b"); inline tags do not ("<b>a</b>b").
      if (!INLINE.has(name)) out += ' ';
    }
    i = end;
  }
  return out.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, ref: string) => {
    const r = ref.toLowerCase();
    if (r.startsWith('#')) {
      const code = r[1] === 'x' ? parseInt(r.slice(2), 16) : parseInt(r.slice(1), 10);
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[r] ?? whole;
  });
}
