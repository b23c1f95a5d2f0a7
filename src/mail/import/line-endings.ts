/**
 * Line-ending conversion at the edges of the store. IMAP serves messages with
 * CRLF line ends (RFC 9051 §2.2, RFC 5322 §2.1); mbox files and Dovecot's
 * Maildir files usually hold bare LF. Only line ends are touched: a lone CR
 * and an existing CRLF pass unchanged.
 */

const LF = 0x0a;
const CR = 0x0d;

/** Bare LF → CRLF; returns the input itself when it has no bare LF. */
export function toCrlf(bytes: Buffer): Buffer {
  let bare = 0;
  for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, i + 1)) if (i === 0 || bytes[i - 1] !== CR) bare++;
  if (bare === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + bare);
  let o = 0;
  let from = 0;
  for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, i + 1)) {
    if (i > 0 && bytes[i - 1] === CR) continue;
    o += bytes.copy(out, o, from, i);
    out[o++] = CR;
    from = i; // the LF itself is copied with the next run
  }
  bytes.copy(out, o, from);
  return out;
}

/** CRLF → LF; returns the input itself when it has no CRLF. */
export function toLf(bytes: Buffer): Buffer {
  let pairs = 0;
  for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, i + 1)) if (i > 0 && bytes[i - 1] === CR) pairs++;
  if (pairs === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length - pairs);
  let o = 0;
  let from = 0;
  for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, i + 1)) {
    if (i === 0 || bytes[i - 1] !== CR) continue;
    o += bytes.copy(out, o, from, i - 1);
    from = i;
  }
  bytes.copy(out, o, from);
  return out;
}
