/**
 * Modified UTF-7 mailbox names (RFC 3501 §5.1.3), used with IMAP4rev1 clients
 * that did not enable UTF8=ACCEPT or IMAP4rev2 (RFC 9051 §5.1 / Appendix A).
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';

/** Encodes a UTF-8 mailbox name to modified UTF-7. */
export function encodeMutf7(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const bytes = Buffer.alloc(pending.length * 2);
    pending.forEach((u, i) => bytes.writeUInt16BE(u, i * 2));
    out += `&${bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      flush();
      out += c === 0x26 ? '&-' : name[i];
    } else {
      pending.push(c);
    }
  }
  flush();
  return out;
}

/** Decodes modified UTF-7; returns null for invalid input (the caller answers BAD). */
export function decodeMutf7(text: string): string | null {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const c = ch.charCodeAt(0);
    if (c < 0x20 || c > 0x7e) return null;
    if (ch !== '&') {
      out += ch;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) return null;
    const chunk = text.slice(i + 1, end);
    i = end;
    if (chunk === '') {
      out += '&';
      continue;
    }
    for (const x of chunk) if (!B64.includes(x)) return null;
    const bytes = Buffer.from(chunk.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2 !== 0) return null;
    let decoded = '';
    for (let j = 0; j < bytes.length; j += 2) decoded += String.fromCharCode(bytes.readUInt16BE(j));
    out += decoded;
  }
  // Only the one encoding our encoder produces is valid: Node's base64 decoder
  // silently drops stray characters and padding bits, and RFC 3501 §5.1.3 also
  // forbids base64 for printable US-ASCII and superfluous shifts ("&AGE-&AGE-").
  // So a name round-trips exactly, as the RFC requires servers to preserve it.
  return out.isWellFormed() && encodeMutf7(out) === text ? out : null;
}
