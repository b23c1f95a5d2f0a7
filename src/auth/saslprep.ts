/**
 * SASLprep (RFC 4013), the stringprep profile (RFC 3454) for user names and
 * passwords that PLAIN (RFC 4616 §2) and SCRAM (RFC 5802 §5.1, RFC 7677)
 * require. Steps, in RFC 3454 §2's order: map (C.1.2 non-ASCII spaces to
 * SPACE, B.1 to nothing), normalize (NFKC), refuse prohibited output (C.1.2,
 * C.2.1–C.9), check bidirectional text (§6), and for stored strings refuse
 * unassigned code points (A.1, §7); queries allow them.
 *
 * The tables are RFC 3454's (Unicode 3.2, src/auth/stringprep-tables.ts);
 * NFKC is the runtime's, a later Unicode: it agrees with 3.2's on every
 * character assigned in 3.2, the only ones a stored string may hold.
 *
 * U+200B is in both C.1.2 and B.1; like GNU libidn, spaces map first, so it
 * becomes SPACE.
 */
import { A_1, B_1, C_1_2, C_2_1, C_2_2, C_3, C_4, C_5, C_6, C_7, C_8, C_9, D_1, D_2 } from './stringprep-tables.js';

/** RFC 3454 §7: stored strings refuse unassigned code points, queries allow them. */
export type SaslprepMode = 'stored' | 'query';

/** Why SASLprep refuses a string: RFC 4013 §2.3 prohibited output, §2.4 bidi check, §2.5 unassigned code point. */
export type SaslprepRefusal = 'prohibited' | 'bidi' | 'unassigned';

export interface SaslprepResult {
  /** The string after mapping and normalization (also when refused). */
  prepared: string;
  refused: SaslprepRefusal | null;
}

/** Whether `cp` lies in a flattened range table (binary search over [first, last] pairs). */
export function inTable(table: readonly number[], cp: number): boolean {
  let lo = 0;
  let hi = table.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < (table[2 * mid] as number)) hi = mid - 1;
    else if (cp > (table[2 * mid + 1] as number)) lo = mid + 1;
    else return true;
  }
  return false;
}

/** RFC 4013 §2.3: the tables of prohibited output, merged into one range table (one search per code point). */
const PROHIBITED: readonly number[] = mergeTables([C_1_2, C_2_1, C_2_2, C_3, C_4, C_5, C_6, C_7, C_8, C_9]);

function mergeTables(tables: readonly (readonly number[])[]): number[] {
  const ranges: [number, number][] = [];
  for (const t of tables) for (let i = 0; i < t.length; i += 2) ranges.push([t[i] as number, t[i + 1] as number]);
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: number[] = [];
  for (const [first, last] of ranges) {
    const end = merged.length - 1;
    if (end > 0 && first <= (merged[end] as number) + 1) merged[end] = Math.max(merged[end] as number, last);
    else merged.push(first, last);
  }
  return merged;
}

/** Printable ASCII: every step leaves it as it is (the common case, no table searched). */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** RFC 4013 §2.1: C.1.2 to SPACE, B.1 to nothing. */
function map(input: string): string {
  let out = '';
  for (const ch of input) {
    const cp = ch.codePointAt(0) as number;
    if (inTable(C_1_2, cp)) out += ' ';
    else if (!inTable(B_1, cp)) out += ch;
  }
  return out;
}

/** RFC 3454 §6: with any RandALCat character, no LCat character, and RandALCat first and last. */
function bidiOk(codePoints: readonly number[]): boolean {
  if (!codePoints.some((cp) => inTable(D_1, cp))) return true;
  if (codePoints.some((cp) => inTable(D_2, cp))) return false;
  return inTable(D_1, codePoints[0] ?? 0) && inTable(D_1, codePoints.at(-1) ?? 0);
}

/** SASLprep of `input` as a stored string or a query (RFC 3454 §7). */
export function saslprep(input: string, mode: SaslprepMode): SaslprepResult {
  if (PRINTABLE_ASCII.test(input)) return { prepared: input, refused: null };
  const prepared = map(input).normalize('NFKC');
  const codePoints = Array.from(prepared, (ch) => ch.codePointAt(0) as number);
  let refused: SaslprepRefusal | null = null;
  if (codePoints.some((cp) => inTable(PROHIBITED, cp))) refused = 'prohibited';
  else if (!bidiOk(codePoints)) refused = 'bidi';
  // The input is checked: an unassigned code point stays as it is under Unicode 3.2's NFKC, whatever a later one makes of it.
  else if (mode === 'stored' && Array.from(input).some((ch) => inTable(A_1, ch.codePointAt(0) as number))) refused = 'unassigned';
  return { prepared, refused };
}
