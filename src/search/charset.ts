/**
 * SEARCH CHARSET (RFC 9051 §6.4.4): turns the client's search strings into
 * text. UTF-8 and US-ASCII are required; in IMAP4rev1 mode any other charset
 * iconv-lite knows is accepted too, while IMAP4rev2 clients get BADCHARSET for
 * anything but the two required ones.
 */
import iconv from 'iconv-lite';

/** Turns a client string's bytes into text. */
export type Decode = (bytes: Buffer) => string;

/** The charsets listed in `NO [BADCHARSET (...)]` (RFC 9051 §7.1). */
export const REQUIRED_CHARSETS = ['UTF-8', 'US-ASCII'] as const;

/** Byte codecs iconv-lite accepts as "encodings" that are not character sets. */
const NOT_CHARSETS = new Set(['base64', 'hex', 'base64url']);

const utf8: Decode = (bytes) => bytes.toString('utf8');

/**
 * The decoder for a CHARSET argument (null = none given: UTF-8, which covers
 * US-ASCII); null when the charset is not supported in this mode.
 */
export function charsetDecoder(charset: string | null, rev2: boolean): Decode | null {
  if (charset === null) return utf8;
  const name = charset.toUpperCase();
  // US-ASCII is a subset of UTF-8; stray 8-bit octets then decode leniently.
  if (name === 'UTF-8' || name === 'US-ASCII') return utf8;
  if (rev2 || NOT_CHARSETS.has(name.toLowerCase()) || !iconv.encodingExists(charset)) return null;
  return (bytes) => iconv.decode(bytes, charset);
}
