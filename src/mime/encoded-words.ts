/**
 * Header text for SEARCH and SORT: unfolding (RFC 5322 §2.2.3), RFC 2047
 * encoded words in any charset (RFC 2231 §5 language suffix allowed), and
 * raw 8-bit text read as UTF-8 or windows-1252.
 *
 * Lenient where mail is broken in practice: encoded words glued to other
 * text are decoded too, and adjacent words in one charset are joined before
 * conversion so a multi-byte character split across words survives.
 */
import { decodeCharset, decodeUnlabelled } from './charset.js';
import { decodeBase64 } from './transfer-encoding.js';

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** RFC 2047 §4.2 "Q" encoding. */
function decodeQ(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5f) out.push(0x20);
    else if (ch === 0x3d && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(ch & 0xff);
  }
  return Buffer.from(out);
}

/** Removes CR and LF octets: the white space after a fold stays (RFC 5322 §2.2.3). */
function unfold(raw: Buffer): Buffer {
  if (raw.indexOf(0x0a) < 0 && raw.indexOf(0x0d) < 0) return raw;
  return Buffer.from(raw.filter((c) => c !== 0x0a && c !== 0x0d));
}

/** Raw text (charset null) or the octets of encoded words in one charset. */
interface Segment {
  charset: string | null;
  bytes: Buffer;
}

/** Decodes a raw header value into display text (encoded words decoded, unfolded). */
export function decodeHeaderValue(raw: Buffer): string {
  const s = unfold(raw).toString('latin1');
  const segs: Segment[] = [];
  let last = 0;
  for (const m of s.matchAll(ENCODED_WORD)) {
    const gap = s.slice(last, m.index);
    const prev = segs[segs.length - 1];
    // RFC 2047 §6.2: white space between adjacent encoded words is dropped
    const betweenWords = prev !== undefined && prev.charset !== null && /^[ \t]*$/.test(gap);
    if (!betweenWords) segs.push({ charset: null, bytes: Buffer.from(gap, 'latin1') });
    const charset = (m[1] ?? '').split('*')[0] ?? '';
    const text = m[3] ?? '';
    const bytes = (m[2] ?? 'q').toLowerCase() === 'b' ? decodeBase64(Buffer.from(text, 'latin1')) : decodeQ(text);
    const tail = segs[segs.length - 1];
    // words in one charset are joined first, so a character split between them survives
    if (tail !== undefined && tail.charset !== null && tail.charset.toLowerCase() === charset.toLowerCase()) {
      tail.bytes = Buffer.concat([tail.bytes, bytes]);
    } else {
      segs.push({ charset, bytes });
    }
    last = m.index + m[0].length;
  }
  segs.push({ charset: null, bytes: Buffer.from(s.slice(last), 'latin1') });
  return segs.map((x) => (x.charset === null ? decodeUnlabelled(x.bytes) : decodeCharset(x.bytes, x.charset))).join('');
}
