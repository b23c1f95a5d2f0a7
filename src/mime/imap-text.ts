/**
 * The two clean-ups Dovecot applies to header text before it goes into
 * ENVELOPE and BODYSTRUCTURE, and the string encoders used for both.
 *
 * Invariant: no value leaves here with a NUL octet (not allowed in an IMAP
 * string or literal, RFC 9051 §4.3); NUL becomes 0x80 like Dovecot does.
 */
import { encodeNString, encodeString, REV1, withoutNul } from '../syntax/imap-string.js';

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Removes line breaks from a (folded) value: a CR or LF followed by white
 * space, another break or the end disappears, any other becomes one space.
 */
export function nolf(v: Buffer): Buffer {
  if (v.indexOf(CR) < 0 && v.indexOf(LF) < 0) return v;
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const c = v[i] ?? 0;
    if (c !== CR && c !== LF) {
      out.push(c);
      continue;
    }
    const n = v[i + 1];
    if (n !== undefined && n !== SP && n !== TAB && n !== CR && n !== LF) out.push(SP);
  }
  return Buffer.from(out);
}

/** "For humans" (subject, display names): white space runs become one space, none at either end. */
export function forHumans(v: Buffer): Buffer {
  const out: number[] = [];
  let pendingSpace = false;
  for (const c of v) {
    if (c === SP || c === TAB || c === CR || c === LF) {
      pendingSpace = out.length > 0;
      continue;
    }
    if (pendingSpace) out.push(SP);
    pendingSpace = false;
    out.push(c);
  }
  return Buffer.from(out);
}

/** An IMAP string (quoted or literal, IMAP4rev1 rules). */
export function istr(v: Buffer | string): Buffer {
  return encodeString(typeof v === 'string' ? v : withoutNul(v), REV1);
}

/** An IMAP nstring: NIL for null. */
export function instr(v: Buffer | null): Buffer {
  return encodeNString(v === null ? null : withoutNul(v), REV1);
}
