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

interface Run {
  charset: string;
  bytes: Buffer[];
}

/** Decodes a raw header value into display text (encoded words decoded, unfolded). */
export function decodeHeaderValue(raw: Buffer): string {
  const s = unfold(raw).toString('latin1');
  const parts: string[] = [];
  let run: Run | undefined;
  let last = 0;
  for (const m of s.matchAll(ENCODED_WORD)) {
    const gap = s.slice(last, m.index);
    // RFC 2047 §6.2: white space between adjacent encoded words is dropped
    if (run === undefined || !/^[ \t]*$/.test(gap)) {
      if (run !== undefined) parts.push(decodeCharset(Buffer.concat(run.bytes), run.charset));
      run = undefined;
      parts.push(decodeUnlabelled(Buffer.from(gap, 'latin1')));
    }
    const charset = (m[1] ?? '').split('*')[0] ?? '';
    const text = m[3] ?? '';
    const bytes = (m[2] ?? 'q').toLowerCase() === 'b' ? decodeBase64(Buffer.from(text, 'latin1')) : decodeQ(text);
    if (run !== undefined && run.charset.toLowerCase() === charset.toLowerCase()) run.bytes.push(bytes);
    else {
      if (run !== undefined) parts.push(decodeCharset(Buffer.concat(run.bytes), run.charset));
      run = { charset, bytes: [bytes] };
    }
    last = m.index + m[0].length;
  }
  if (run !== undefined) parts.push(decodeCharset(Buffer.concat(run.bytes), run.charset));
  parts.push(decodeUnlabelled(Buffer.from(s.slice(last), 'latin1')));
  return parts.join('');
}
