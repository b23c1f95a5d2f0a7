/**
 * LMTP/SMTP reply encoding (RFC 5321 §4.2): a three-digit code, the RFC 2034
 * enhanced status code, and text; several lines as "code-text" with the last
 * "code text" (§4.2.1).
 *
 * Invariant: a reply line never carries a control character (no injected
 * CRLF, whatever text it is given) and stays within §4.5.3.1.5's 512 octets.
 */

/** Room for "250-" plus a long enhanced code and CRLF within 512 octets. */
const MAX_TEXT = 480;

function clean(text: string): string {
  const safe = text.replace(/[\x00-\x1f\x7f]/g, '?');
  if (Buffer.byteLength(safe) <= MAX_TEXT) return safe;
  return `${Buffer.from(safe)
    .subarray(0, MAX_TEXT - 3)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}...`;
}

/** One reply line: "code enhanced text" (enhanced code omitted when null, as in the greeting). */
export function replyLine(code: number, enhanced: string | null, text: string): Buffer {
  return Buffer.from(`${code} ${enhanced === null ? '' : `${enhanced} `}${clean(text)}\r\n`);
}

/** A multi-line reply (LHLO's capability list): every line but the last as "code-text". */
export function multilineReply(code: number, lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((line, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${clean(line)}\r\n`).join(''));
}
