/**
 * LMTP/SMTP reply encoding (RFC 5321 §4.2): a three-digit code, the RFC 2034
 * enhanced status code, and text; several lines as "code-text" with the last
 * "code text" (§4.2.1).
 *
 * Invariant: a reply line is textstring (RFC 5321 §4.2: HT and printable
 * ASCII), whatever text it is given — no injected CRLF, no echoed 8-bit
 * octets from a client's address or parameter — and stays within
 * §4.5.3.1.5's 512 octets.
 */

/** Room for "250-" plus a long enhanced code and CRLF within 512 octets. */
const MAX_TEXT = 480;

function clean(text: string): string {
  const safe = text.replace(/[^\t\x20-\x7e]/gu, '?');
  return safe.length <= MAX_TEXT ? safe : `${safe.slice(0, MAX_TEXT - 3)}...`;
}

/** One reply line: "code enhanced text" (enhanced code omitted when null, as in the greeting). */
export function replyLine(code: number, enhanced: string | null, text: string): Buffer {
  return Buffer.from(`${code} ${enhanced === null ? '' : `${enhanced} `}${clean(text)}\r\n`);
}

/** A multi-line reply (LHLO's capability list): every line but the last as "code-text". */
export function multilineReply(code: number, lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((line, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${clean(line)}\r\n`).join(''));
}
