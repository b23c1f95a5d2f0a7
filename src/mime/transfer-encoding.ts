/**
 * Content-Transfer-Encoding decoding (RFC 2045 §6) for FETCH BINARY
 * (RFC 3516) and for SEARCH text. Decoders are lenient: octets outside the
 * encoding's alphabet are skipped (base64) or kept as they are
 * (quoted-printable), so broken mail still yields its content.
 */

const B64 = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((ch, i) => {
  B64[ch.charCodeAt(0)] = i;
});

/** RFC 2045 §6.8 base64; non-alphabet octets are ignored and "=" ends a quantum. */
export function decodeBase64(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.floor((src.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (const c of src) {
    if (c === 0x3d) {
      // padding: drop the partial quantum's spare bits
      acc = 0;
      bits = 0;
      continue;
    }
    const v = B64[c] ?? -1;
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  return out.subarray(0, o);
}

const hexValue = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
};

/**
 * RFC 2045 §6.7 quoted-printable: "=XX" escapes, soft line breaks ("=" at a
 * line end, after optional transport padding), trailing white space of each
 * line removed (rule 3). Hard line breaks are kept as they are.
 */
export function decodeQuotedPrintable(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  let pos = 0;
  while (pos < src.length) {
    const lf = src.indexOf(0x0a, pos);
    const lineEnd = lf < 0 ? src.length : lf;
    const breakStart = lineEnd > pos && src[lineEnd - 1] === 0x0d ? lineEnd - 1 : lineEnd;
    let contentEnd = breakStart;
    while (contentEnd > pos && (src[contentEnd - 1] === 0x20 || src[contentEnd - 1] === 0x09)) contentEnd--;
    let soft = false;
    for (let i = pos; i < contentEnd; i++) {
      const c = src[i] as number;
      if (c !== 0x3d) {
        out[o++] = c;
        continue;
      }
      if (i === contentEnd - 1) {
        soft = true;
        break;
      }
      const hi = hexValue(src[i + 1] ?? -1);
      const lo = hexValue(src[i + 2] ?? -1);
      if (hi >= 0 && lo >= 0 && i + 2 < contentEnd) {
        out[o++] = (hi << 4) | lo;
        i += 2;
      } else {
        out[o++] = c; // not an escape: keep the "=" literally
      }
    }
    if (!soft && lf >= 0) o += src.copy(out, o, breakStart, lf + 1);
    pos = lf < 0 ? src.length : lf + 1;
  }
  return out.subarray(0, o);
}

/**
 * Decodes a part body for FETCH BINARY (RFC 3516 §4.2): base64 and
 * quoted-printable decoded, 7bit/8bit/binary unchanged; null for any other
 * encoding so the caller can answer [UNKNOWN-CTE].
 */
export function decodeTransferEncoding(encoding: string, bytes: Buffer): Buffer | null {
  switch (encoding.trim().toLowerCase()) {
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return bytes;
    case 'base64':
      return decodeBase64(bytes);
    case 'quoted-printable':
      return decodeQuotedPrintable(bytes);
    default:
      return null;
  }
}
