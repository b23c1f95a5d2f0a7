/**
 * RFC 5228 §2.4.2.4 encoded-character: "${hex: 41 42}" and "${unicode: 263a}"
 * inside strings. A sequence that is not well formed is left as written.
 */

const ENCODED = /\$\{(hex|unicode):([\s0-9a-fA-F]*)\}/gi;

/** Replaces the encoded-character sequences in a string. */
export function decodeEncodedCharacters(s: string): string {
  if (!s.includes('${')) return s;
  return s.replace(ENCODED, (whole, kind: string, body: string) => {
    const units = body.trim() === '' ? [] : body.trim().split(/\s+/);
    if (kind.toLowerCase() === 'hex') {
      if (units.some((u) => u.length > 2)) return whole;
      return Buffer.from(units.map((u) => Number.parseInt(u, 16))).toString('utf8');
    }
    const points = units.map((u) => Number.parseInt(u, 16));
    // RFC 5228 §2.4.2.4: surrogates and values above 0x10FFFF are an error; leave them
    if (points.some((p) => p > 0x10ffff || (p >= 0xd800 && p <= 0xdfff))) return whole;
    return String.fromCodePoint(...points);
  });
}
