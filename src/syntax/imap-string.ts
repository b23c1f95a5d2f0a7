/**
 * IMAP value encoding (RFC 9051 §4.3, §9 formal syntax). Commands never
 * concatenate protocol strings by hand: they call these helpers, which decide
 * between atom, quoted string and literal for any value. A leaf: mime/ (ENVELOPE,
 * BODYSTRUCTURE) and imap/ both build on it, so it imports nothing of the house.
 *
 * Invariants: output is always syntactically valid for the session's mode;
 * CR, LF and NUL never appear inside a quoted string; 8-bit octets are only
 * quoted when the session accepted UTF-8 (RFC 9051 §4.3 / RFC 6855) and the
 * bytes are valid UTF-8, otherwise they go out as a literal.
 */

/** Per-session choices that change how values are encoded. */
export interface EncodeMode {
  /** IMAP4rev2 or UTF8=ACCEPT enabled: valid UTF-8 may appear in quoted strings. */
  utf8: boolean;
}

/** Encoding used when nothing was enabled (IMAP4rev1 rules). */
export const REV1: EncodeMode = { utf8: false };

const CRLF = Buffer.from('\r\n');
const NIL = Buffer.from('NIL');

/** ATOM-CHAR per RFC 9051 §9: any CHAR except atom-specials. */
export function isAtomChar(c: number): boolean {
  if (c <= 0x20 || c >= 0x7f) return false;
  // atom-specials: ( ) { SP CTL list-wildcards(% *) quoted-specials(" \) resp-specials(])
  return !(c === 0x28 || c === 0x29 || c === 0x7b || c === 0x25 || c === 0x2a || c === 0x22 || c === 0x5c || c === 0x5d);
}

function isValidUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

/** How a value must be sent: 'quoted' when a quoted string can carry it, else 'literal'. */
function quotability(buf: Buffer, mode: EncodeMode): 'quoted' | 'literal' {
  if (buf.length > 1024) return 'literal';
  let eightBit = false;
  for (const c of buf) {
    if (c === 0x0d || c === 0x0a || c === 0x00) return 'literal';
    if (c >= 0x80) eightBit = true;
  }
  if (!eightBit) return 'quoted';
  return mode.utf8 && isValidUtf8(buf) ? 'quoted' : 'literal';
}

/**
 * The bytes as a `literal` (not a literal8) may carry them: each NUL becomes
 * 0x80, as Dovecot does (RFC 9051 §9 and RFC 3501 §9: a literal is *CHAR8,
 * CHAR8 = %x01-ff). Only the rendering changes, never the input: a copy is
 * made only when a NUL is present (memchr first), and the size stays the same.
 */
export function withoutNul(buf: Buffer): Buffer {
  const first = buf.indexOf(0);
  if (first < 0) return buf;
  const copy = Buffer.from(buf);
  for (let i = first; i < copy.length; i++) if (copy[i] === 0) copy[i] = 0x80;
  return copy;
}

/** A literal `{n}\r\n` + bytes (RFC 9051 §4.3); `~{n}` for literal8 (RFC 3516). */
export function literal(buf: Buffer, binary = false): Buffer {
  return Buffer.concat([Buffer.from(`${binary ? '~' : ''}{${buf.length}}\r\n`), buf]);
}

/** A quoted string; the caller guarantees the content is quotable. */
function quoted(buf: Buffer): Buffer {
  let extra = 0;
  for (const c of buf) if (c === 0x22 || c === 0x5c) extra++;
  const out = Buffer.allocUnsafe(buf.length + extra + 2);
  let o = 0;
  out[o++] = 0x22;
  for (const c of buf) {
    if (c === 0x22 || c === 0x5c) out[o++] = 0x5c;
    out[o++] = c;
  }
  out[o++] = 0x22;
  return out;
}

const toBuf = (v: string | Buffer): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/** `string` (RFC 9051 §9): quoted when possible, else literal. */
export function encodeString(value: string | Buffer, mode: EncodeMode = REV1): Buffer {
  const buf = toBuf(value);
  return quotability(buf, mode) === 'quoted' ? quoted(buf) : literal(buf);
}

/** `nstring`: NIL for null, else a string. */
export function encodeNString(value: string | Buffer | null | undefined, mode: EncodeMode = REV1): Buffer {
  return value === null || value === undefined ? NIL : encodeString(value, mode);
}

/** `astring`: a bare atom when every octet is ASTRING-CHAR and it is not "NIL", else a string. */
export function encodeAString(value: string | Buffer, mode: EncodeMode = REV1): Buffer {
  const buf = toBuf(value);
  // NIL is matched case-insensitively (RFC 9051 §9 note 1), so "nil" must be quoted too.
  if (buf.length > 0 && buf.length < 256 && buf.toString('latin1').toUpperCase() !== 'NIL') {
    let atom = true;
    for (const c of buf) {
      if (!isAtomChar(c) && c !== 0x5d) {
        atom = false;
        break;
      }
    }
    if (atom) return buf;
  }
  return encodeString(buf, mode);
}

/** A parenthesized list of already-encoded items separated by SP. */
export function encodeList(items: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from('(')];
  items.forEach((item, i) => {
    if (i > 0) parts.push(Buffer.from(' '));
    parts.push(item);
  });
  parts.push(Buffer.from(')'));
  return Buffer.concat(parts);
}

/** Joins encoded pieces with SP. */
export function joinSp(items: readonly (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [];
  items.forEach((item, i) => {
    if (i > 0) parts.push(Buffer.from(' '));
    parts.push(toBuf(item));
  });
  return Buffer.concat(parts);
}

export { CRLF, NIL };
