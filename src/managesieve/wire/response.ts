/**
 * ManageSieve response encoding (RFC 5804 §1.2, §4): strings quoted when
 * they can be, literals (`{n}`, literal-s2c) otherwise; status lines
 * `OK` / `NO` / `BYE` with an optional response code and text.
 *
 * Invariant: a quoted string carries no CR, LF or NUL and at most 1024
 * octets; everything else goes out as a literal, byte for byte.
 */

/** RFC 5804 §4 `quoted`: at most 1024 octets. */
const MAX_QUOTED = 1024;
/** Human-readable text is cut to this many octets (it is for people; codes carry the meaning). */
const MAX_TEXT = 1000;

/** A string (RFC 5804 §4): quoted when it can be, else a literal. */
export function encodeString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (bytes.length <= MAX_QUOTED && !bytes.includes(0x0d) && !bytes.includes(0x0a) && !bytes.includes(0)) {
    return Buffer.concat([Buffer.from('"'), Buffer.from(bytes.toString('latin1').replace(/["\\]/g, '\\$&'), 'latin1'), Buffer.from('"')]);
  }
  return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`), bytes]);
}

/** Text cut to a sane length on a character boundary. */
function text(value: string): string {
  if (Buffer.byteLength(value) <= MAX_TEXT) return value;
  return `${Buffer.from(value)
    .subarray(0, MAX_TEXT - 3)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}...`;
}

/** `OK` / `NO` / `BYE` with an optional code (and the code's string argument, as TAG and SASL take) and text. */
export function statusLine(status: 'OK' | 'NO' | 'BYE', code: string | null, message: string, codeArg?: string | Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from(status)];
  if (code !== null) {
    parts.push(Buffer.from(` (${code}`));
    if (codeArg !== undefined) parts.push(Buffer.from(' '), encodeString(codeArg));
    parts.push(Buffer.from(')'));
  }
  if (message !== '') parts.push(Buffer.from(' '), encodeString(text(message)));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** One capability line (RFC 5804 §1.7): `"NAME"` or `"NAME" "value"`. */
export function capabilityLine(name: string, value?: string): Buffer {
  const parts = [encodeString(name)];
  if (value !== undefined) parts.push(Buffer.from(' '), encodeString(value));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}
