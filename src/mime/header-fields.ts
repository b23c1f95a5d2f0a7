/**
 * Splits raw header bytes into fields (RFC 5322 §2.2), tolerating what real
 * mail contains: bare LF, lines without a colon (the whole line becomes the
 * name, the value is empty), white space before the colon, 8-bit octets.
 *
 * A field's value is the "full value" Dovecot works with: leading white space
 * after the colon removed (only one octet of it when the value is nothing
 * but white space), continuation lines appended with their line breaks and
 * leading white space kept (unfolding is left to the consumer, RFC 5322 §2.2.3).
 * NUL octets in a value become U+FFFD.
 */
import { isLwsp } from './rfc822-lexer.js';

/** One header field: name (as written, trailing white space trimmed) and full value. */
export interface HeaderField {
  name: Buffer;
  value: Buffer;
}

const LF = 0x0a;
const CR = 0x0d;

const REPLACEMENT_CHARACTER = Buffer.from('\ufffd');

/** NUL has no place in header text; like Dovecot, it becomes U+FFFD. */
function replaceNul(v: Buffer): Buffer {
  if (v.indexOf(0) < 0) return v;
  const out: Buffer[] = [];
  let start = 0;
  for (let i = v.indexOf(0); i >= 0; i = v.indexOf(0, start)) {
    out.push(v.subarray(start, i), REPLACEMENT_CHARACTER);
    start = i + 1;
  }
  out.push(v.subarray(start));
  return Buffer.concat(out);
}

/** Parses a header block (without the blank line that ends it). */
export function parseHeaderFields(raw: Buffer, maxFields: number): HeaderField[] {
  const fields: HeaderField[] = [];
  let name: Buffer | null = null;
  let parts: Buffer[] = [];
  let pos = 0;
  const flush = (): void => {
    if (name !== null) fields.push({ name, value: replaceNul(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)) });
    name = null;
    parts = [];
  };
  while (pos < raw.length) {
    const lf = raw.indexOf(LF, pos);
    const lineEnd = lf < 0 ? raw.length : lf;
    const contentEnd = lf > pos && raw[lf - 1] === CR ? lf - 1 : lineEnd;
    const next = lf < 0 ? raw.length : lf + 1;
    const line = raw.subarray(pos, contentEnd);
    const breakBytes = raw.subarray(contentEnd, next);
    if (name !== null && isLwsp(raw[pos] ?? -1)) {
      parts.push(line); // continuation line, leading white space kept
    } else {
      flush();
      if (fields.length >= maxFields) return fields;
      const colon = line.indexOf(0x3a);
      if (colon < 0) {
        name = line;
        parts = [Buffer.alloc(0)];
      } else {
        let nameEnd = colon;
        while (nameEnd > 0 && isLwsp(line[nameEnd - 1] ?? -1)) nameEnd--;
        name = line.subarray(0, nameEnd);
        let v = colon + 1;
        while (v < line.length && isLwsp(line[v] ?? -1)) v++;
        if (v === line.length && line.length > colon + 1) v = colon + 2; // all white space: skip just one
        parts = [line.subarray(v)];
      }
    }
    // a following continuation line keeps this line's break between the two
    if (next < raw.length && isLwsp(raw[next] ?? -1)) parts.push(breakBytes);
    pos = next;
  }
  flush();
  return fields;
}

/** Case-insensitive comparison of a field name with a lower-case ASCII name. */
export function nameIs(name: Buffer, ascii: string): boolean {
  if (name.length !== ascii.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = name[i] ?? 0;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== ascii.charCodeAt(i)) return false;
  }
  return true;
}
