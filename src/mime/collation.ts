/**
 * The i;unicode-casemap collation (RFC 5051) SORT and THREAD must use
 * (RFC 5256 §7), and SEARCH too under I18NLEVEL=1 (RFC 5255 §4.3): every character is mapped to its titlecase, then fully
 * decomposed (NFKD), and the results compare as code points.
 *
 * A string becomes a key once; keys then compare with plain `<`, `===`. JS
 * compares UTF-16 code units, which orders U+E000–U+FFFF before supplementary
 * characters, so keys are shifted into code-point order (RFC 5051 §2 warns
 * about exactly this); keys are therefore for comparing, never for display.
 */

const ASCII = /^[\x00-\x7f]*$/;

/**
 * Characters whose titlecase differs from their simple uppercase (Unicode
 * data): the Latin digraphs and the Greek letters with ypogegrammeni, which
 * titlecase to a single character where full uppercasing gives two.
 */
function titlecaseSpecial(cp: number): number {
  if (cp >= 0x01c4 && cp <= 0x01cc) return 0x01c5 + 3 * Math.floor((cp - 0x01c4) / 3);
  if (cp >= 0x01f1 && cp <= 0x01f3) return 0x01f2;
  if (cp >= 0x1f80 && cp <= 0x1faf) return cp | 0x08;
  if (cp === 0x1fb3 || cp === 0x1fc3 || cp === 0x1ff3) return cp + 9;
  return -1;
}

/** An ASCII run or one other character (code point). */
const RUNS = /[\x00-\x7f]+|[^\x00-\x7f]/gu;
/** The characters titlecaseSpecial maps. */
const TITLECASE_SPECIAL = /[\u01c4-\u01cc\u01f1-\u01f3\u1f80-\u1faf\u1fb3\u1fc3\u1ff3]/;

/** A character's simple titlecase: full uppercasing when that yields one character, else the character itself (ß, ligatures). */
function titlecase(ch: string): string {
  const special = titlecaseSpecial(ch.codePointAt(0)!);
  if (special >= 0) return String.fromCodePoint(special);
  const upper = ch.toUpperCase();
  return [...upper].length === 1 ? upper : ch;
}

/** Shifts UTF-16 code units so that `<` on the result orders by code point. */
function codePointOrder(s: string): string {
  return s.replace(/[\ud800-\uffff]/g, (u) => {
    const c = u.charCodeAt(0);
    return String.fromCharCode(c >= 0xe000 ? c - 0x800 : c + 0x2000);
  });
}

/**
 * A string mapped by i;unicode-casemap (RFC 5051 §2: titlecase, then NFKD), for
 * substring matching (SEARCH, RFC 5255 §4.3 I18NLEVEL=1).
 */
export function casemapText(s: string): string {
  // ASCII: titlecase is uppercase and NFKD changes nothing.
  if (ASCII.test(s)) return s.toUpperCase();
  // Uppercasing never shortens a string; when it kept the length, every character stayed one
  // character, and then titlecase is uppercase except for the few specials. Body text takes this path.
  const upper = s.toUpperCase();
  if (upper.length === s.length && !TITLECASE_SPECIAL.test(s)) return upper.normalize('NFKD');
  // ASCII runs uppercase at once; other characters one by one.
  return s.replace(RUNS, (m) => (m.charCodeAt(0) < 0x80 ? m.toUpperCase() : titlecase(m))).normalize('NFKD');
}

/** The comparison key of a string under i;unicode-casemap (RFC 5051 §2), ordered by code point. */
export function casemapKey(s: string): string {
  return ASCII.test(s) ? s.toUpperCase() : codePointOrder(casemapText(s));
}

/** Orders two casemap keys: negative, zero or positive. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
