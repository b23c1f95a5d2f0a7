/**
 * POP3 response encoding (RFC 1939 §3, RFC 2449 §3 and §8): status lines with
 * an optional response code, and multi-line blocks ending in ".".
 *
 * Invariant: a status line never carries control characters (no injected
 * CRLF) and stays within RFC 2449 §4's 512 octets, whatever text it is given.
 */

/** Room for "-ERR [SYS/TEMP] " and CRLF within the 512-octet first line (RFC 2449 §4). */
const MAX_TEXT = 480;
/** The end of a multi-line response. */
export const TERMINATOR = Buffer.from('.\r\n');

/** Response text made safe for one line. */
function clean(text: string): string {
  const safe = text.replace(/[\x00-\x1f\x7f]/g, '?');
  return Buffer.byteLength(safe) <= MAX_TEXT
    ? safe
    : `${Buffer.from(safe)
        .subarray(0, MAX_TEXT - 3)
        .toString('utf8')
        .replace(/\uFFFD$/, '')}...`;
}

/** "+OK text" (text may be empty). */
export function okLine(text: string): Buffer {
  return Buffer.from(text === '' ? '+OK\r\n' : `+OK ${clean(text)}\r\n`);
}

/** "-ERR [code] text"; the code is one of RFC 2449 §8 / RFC 3206's. */
export function errLine(code: string | null, text: string): Buffer {
  return Buffer.from(`-ERR ${code ? `[${code}] ` : ''}${clean(text)}\r\n`);
}

/** Lines of a multi-line body, byte-stuffed (RFC 1939 §3), without the terminator. */
export function bodyLines(lines: readonly string[]): Buffer {
  let text = '';
  for (const line of lines) text += `${line.startsWith('.') ? '.' : ''}${line}\r\n`;
  return Buffer.from(text);
}
