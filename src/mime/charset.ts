/**
 * Charset conversion to JavaScript strings for SEARCH text (RFC 2045 §5.1
 * charset parameter, RFC 2047 §2 encoded-word charset). Lenient by design:
 * unknown or missing charsets fall back to UTF-8 when the octets are valid
 * UTF-8 and to windows-1252 otherwise, so text is always searchable.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

/** Undeclared or ASCII-declared 8-bit text: UTF-8 if it is valid UTF-8, else windows-1252. */
export function decodeUnlabelled(bytes: Buffer): string {
  // Native scans: iterating the Buffer in JS cost more than the rest of an APPEND's analysis.
  if (isAscii(bytes)) return bytes.toString('latin1');
  if (!isUtf8(bytes)) return iconv.decode(bytes, 'windows-1252');
  const text = bytes.toString('utf8');
  // As a UTF-8 TextDecoder would, drop a byte order mark.
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Node encodings iconv-lite accepts that are not charsets (they would re-encode the octets). */
const BYTE_TO_TEXT = new Set(['base64', 'base64url', 'hex']);

const ESC = 0x1b;

/**
 * RFC 1468 ISO-2022-JP, which iconv-lite lacks: re-encode the JIS X 0208
 * shifts as EUC-JP (same code points, high bit set) and decode that.
 */
function iso2022jpToEucJp(bytes: Buffer): Buffer {
  const out: number[] = [];
  let mode: 'ascii' | 'jis' | 'kana' = 'ascii';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] ?? 0;
    if (c === ESC && i + 2 < bytes.length) {
      const a = bytes[i + 1];
      const b = bytes[i + 2];
      if (a === 0x24 && (b === 0x42 || b === 0x40)) mode = 'jis';
      else if (a === 0x28 && (b === 0x42 || b === 0x4a)) mode = 'ascii';
      else if (a === 0x28 && b === 0x49) mode = 'kana';
      else {
        out.push(c);
        continue;
      }
      i += 2;
      continue;
    }
    if (c === 0x0a || c === 0x0d) mode = 'ascii'; // a line break resets the shift (RFC 1468)
    if (mode === 'jis' && c > 0x20 && c < 0x7f) out.push(c | 0x80);
    else if (mode === 'kana' && c > 0x20 && c < 0x60) out.push(0x8e, c | 0x80);
    else out.push(c);
  }
  return Buffer.from(out);
}

/** Decodes text in the named charset. */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const name = (charset ?? '').trim().toLowerCase();
  if (name === '' || name === 'us-ascii' || name === 'ascii' || name === 'utf-8' || name === 'utf8') return decodeUnlabelled(bytes);
  if (name === 'iso-2022-jp' || name === 'csiso2022jp') return iconv.decode(iso2022jpToEucJp(bytes), 'euc-jp');
  if (iconv.encodingExists(name) && !BYTE_TO_TEXT.has(name)) return iconv.decode(bytes, name);
  return decodeUnlabelled(bytes);
}
